#pragma once
// One simulated validator: an Engine with its Mempool, its SimStorage (which outlives crashes),
// its signer and its clock. The engine and mempool exist only while the node is up; a crash
// discards them (and every timer they set), a restart builds new ones on the same storage.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consensus/engine.h"
#include "mempool/mempool.h"
#include "sim/sim_crypto.h"
#include "sim/sim_storage.h"

namespace tally::sim {

// What a Byzantine validator does on top of running an honest engine.
struct ByzantineBehaviours {
  bool equivocate_proposals = false;  // a re-signed variant of its proposal to half the peers
  bool double_votes = false;          // a conflicting vote to some peers after the honest one
  bool invalid_votes = false;         // votes for a random (nonexistent) block
  bool withhold = false;              // drops its own messages to some or all peers
  bool amnesia = false;               // forgets its lock at random moments
  bool replay = false;                // re-sends old messages later
  bool malformed = false;             // random, truncated and bit-flipped encodings
  // Colluding fork attack (needs >= 1/3 of the power to succeed): the honest validators are
  // split in two groups and every Byzantine vote and proposal says one thing to each group.
  bool split_brain = false;

  bool any() const {
    return equivocate_proposals || double_votes || invalid_votes || withhold || amnesia || replay ||
           malformed || split_brain;
  }
  std::string describe() const;
};

struct SimNode {
  SimNode(size_t index, const Hash256& secret, uint64_t power, int64_t clock_skew_ms)
      : index(index), signer(secret), power(power), clock_skew_ms(clock_skew_ms) {}

  uint64_t local_time(uint64_t virtual_ms) const {
    return uint64_t(int64_t(virtual_ms) + clock_skew_ms);
  }
  uint64_t virtual_time(uint64_t local_ms) const {
    return uint64_t(int64_t(local_ms) - clock_skew_ms);
  }
  bool accepts_input() const { return up && !paused; }

  size_t index;
  SimSigner signer;
  uint64_t power;
  int64_t clock_skew_ms;
  SimStorage storage;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<Engine> engine;

  bool up = false;
  // Changes on every crash and restart: timers of an earlier incarnation are ignored.
  uint64_t incarnation = 0;
  bool paused = false;
  uint64_t paused_until_ms = 0;
  size_t deferred_while_paused = 0;

  bool byzantine = false;
  ByzantineBehaviours behaviours;

  // Byzantine bookkeeping (see Adversary).
  struct VoteTamper {
    enum class Kind : uint8_t { none, invalid, conflicting } kind = Kind::none;
    Hash256 other_hash;
    std::vector<uint8_t> receives;  // per peer: 0 original, 1 other, 2 both
  };
  std::map<std::pair<uint64_t, uint32_t>, std::pair<Proposal, std::vector<bool>>> alt_proposals;
  std::map<std::tuple<uint64_t, uint32_t, uint8_t>, VoteTamper> vote_tampers;
  std::vector<std::pair<size_t, std::shared_ptr<const Bytes>>> sent_ring;
  size_t sent_ring_next = 0;
  std::vector<bool> withheld_to;
  uint64_t withhold_until_ms = 0;
};

}  // namespace tally::sim
