#pragma once
// Byzantine validators. Each runs an honest Engine; the adversary rewrites what it puts on the
// wire (and, for amnesia, pokes its replica), signing with that validator's own SimSigner only.
// Behaviours: equivocating proposals, double votes, votes for nonexistent blocks, withholding,
// amnesia, replays of old messages, malformed bytes, and the colluding split-brain fork attack.

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consensus/validator_set.h"
#include "sim/event_queue.h"
#include "sim/node.h"
#include "sim/random.h"

namespace tally::sim {

using SharedBytes = std::shared_ptr<const Bytes>;

struct Wire {
  size_t to = 0;
  SharedBytes bytes;
};

// Shared by every Byzantine validator in a split-brain attack.
struct SplitBrainPlan {
  std::vector<int> group_of_node;  // 0 or 1 for honest nodes, -1 for Byzantine ones
  // (height, round) -> the block hash each group is told about.
  std::map<std::pair<uint64_t, uint32_t>, std::array<Hash256, 2>> variants;
};

class Adversary {
 public:
  Adversary(Random random, Counters& counters, std::string chain_id, const ValidatorSet& validators,
            size_t nodes);

  SplitBrainPlan& plan() { return plan_; }

  // What Byzantine `node` sends instead of `envelopes`.
  std::vector<Wire> tamper(SimNode& node, std::vector<Envelope> envelopes, uint64_t now_ms);
  // Amnesia: the replica forgets its lock.
  void amnesia(SimNode& node);

 private:
  void tamper_proposal(SimNode& node, const Proposal& proposal, const std::vector<size_t>& targets,
                       std::vector<std::vector<SharedBytes>>& per_target);
  void tamper_vote(SimNode& node, const Vote& vote, const std::vector<size_t>& targets,
                   std::vector<std::vector<SharedBytes>>& per_target);
  bool withheld(SimNode& node, size_t to, uint64_t now_ms);
  void remember_sent(SimNode& node, const Wire& wire);
  SharedBytes signed_vote(const SimNode& node, VoteType type, uint64_t height, uint32_t round,
                          const Hash256& block_hash);

  Random random_;
  Counters& counters_;
  std::string chain_id_;
  size_t nodes_;
  ProposerSchedule schedule_;
  SplitBrainPlan plan_;
};

SharedBytes share(Bytes bytes);

}  // namespace tally::sim
