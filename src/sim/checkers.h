#pragma once
// The properties of DESIGN.md §5, checked online while the simulation runs. The first
// violation is kept (with the virtual time) and stops the run.
//
//   agreement        one block hash per height across honest nodes
//   validity         the first report of each height is re-applied to a reference State from
//                    genesis (DirectSignatureVerifier): it must apply, give the header's state
//                    root, conserve supply, make nonces grow by exactly the sender's transaction
//                    count, apply each transaction and each (sender, nonce) at most once, and
//                    carry a commit of > 2/3 of the power and well-formed evidence
//   double_sign      no honest validator releases two different votes for one (height, round,
//                    type) or two different proposals for one (height, round), and nothing it
//                    signed leaves the node before its storage durably records the signature
//   accountability   every double vote by a Byzantine validator that an honest node processed
//                    ends up as evidence in a committed block (unless every node that saw it
//                    crashed since), and no honest validator is ever accused

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/messages.h"
#include "consensus/validator_set.h"
#include "ledger/genesis.h"
#include "ledger/state.h"
#include "sim/event_queue.h"
#include "sim/sim_crypto.h"
#include "sim/sim_storage.h"

namespace tally::sim {

struct Violation {
  std::string checker;
  std::string detail;
  uint64_t time_ms = 0;
};

struct AccountabilitySummary {
  size_t owed = 0;            // double votes processed by an honest node
  size_t committed = 0;       // ... that became committed evidence
  size_t lost_in_crash = 0;   // ... whose every witness crashed before reporting it
  size_t pending_at_end = 0;  // ... seen late, still pending when the run ended
  size_t missing = 0;         // ... nowhere: a violation
};

class Checkers {
 public:
  using VoteKey = std::tuple<Address, uint64_t, uint32_t, uint8_t>;  // validator, h, r, type
  // Whether evidence for this double vote is pending in some live honest node.
  using PendingProbe = std::function<bool(const VoteKey&)>;

  Checkers(const Genesis& genesis, const ValidatorSet& validators, const SimChecker& signatures,
           std::vector<Address> node_addresses, std::vector<bool> honest, Counters& counters);

  bool failed() const { return violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  void fail(const std::string& checker, const std::string& detail, uint64_t time_ms);

  // `node` reports `decided` as committed and applied.
  void on_commit(size_t node, const DecidedBlock& decided, uint64_t time_ms);
  // An honest node put `message` on the wire; `storage` is its storage at that moment.
  void on_released(size_t node, const Message& message, const SimStorage& storage,
                   uint64_t time_ms);
  // An honest node processed `vote` at its current height.
  void on_vote_processed(size_t node, const Vote& vote, uint64_t time_ms);
  // An honest node crashed: whatever it alone knew is gone.
  void on_crash(size_t node);

  void set_pending_probe(PendingProbe probe) { is_pending_ = std::move(probe); }
  // True once every double vote first processed before `before_ms` is committed as evidence
  // (or lost: every witness crashed and no live node holds the evidence).
  bool accountability_settled(uint64_t before_ms) const;
  // Final account. Double votes first processed before `before_ms` that are neither committed
  // nor lost are violations; later ones may still be pending.
  AccountabilitySummary finish_accountability(uint64_t before_ms, uint64_t now_ms);

  const State& reference() const { return reference_; }
  uint64_t reference_height() const { return reference_.height(); }
  // Heights whose first report passed every check.
  uint64_t checked_height() const { return hashes_.size(); }
  std::optional<Hash256> hash_at(uint64_t height) const;
  size_t transactions_committed() const { return applied_transactions_.size(); }
  size_t evidence_committed() const { return committed_evidence_.size(); }
  // An honest node at `node_height` holds `pending` evidence: none of it may be evidence the
  // chain already committed at or below that height (its next proposal would be invalid).
  void check_pending_evidence(size_t node, uint64_t node_height,
                              const std::vector<DuplicateVoteEvidence>& pending,
                              const std::string& node_history, uint64_t time_ms);

  // Test hook: the first report of this height is seen with a corrupted state root, as if a
  // node had committed a block that does not follow the ledger rules.
  void tamper_state_root_at(uint64_t height) { tamper_height_ = height; }

 private:
  struct Equivocation {
    uint64_t first_seen_ms = 0;  // when the current witnesses started to exist
    std::map<size_t, std::set<Hash256>> hashes_by_node;
    std::set<size_t> witnesses;  // live honest nodes that processed two different hashes
    bool ever_witnessed = false;
  };

  void check_first_report(const Block& block, const Commit& commit, uint64_t time_ms);

  Genesis genesis_;
  ValidatorSet validators_;
  ProposerSchedule schedule_;  // who signs the proposal of a (height, round)
  const SimChecker& signatures_;
  std::vector<Address> node_addresses_;
  std::vector<bool> honest_;
  std::set<Address> honest_addresses_;
  Counters& counters_;
  DirectSignatureVerifier direct_verifier_;

  std::optional<Violation> violation_;
  State reference_;
  std::vector<Hash256> hashes_;  // hashes_[h - 1]: the block decided at height h
  std::vector<BlockHeader> headers_;
  std::set<Hash256> applied_transactions_;
  std::set<std::pair<Address, uint64_t>> applied_nonces_;
  std::set<VoteKey> committed_evidence_;
  std::map<Hash256, uint64_t> committed_evidence_heights_;  // evidence hash -> block height

  std::map<std::tuple<size_t, uint64_t, uint32_t, uint8_t>, Hash256> signed_votes_;  // node, ...
  std::map<std::tuple<size_t, uint64_t, uint32_t>, Hash256> signed_proposals_;
  std::map<VoteKey, Equivocation> equivocations_;
  std::optional<uint64_t> tamper_height_;
  PendingProbe is_pending_ = [](const VoteKey&) { return false; };
};

}  // namespace tally::sim
