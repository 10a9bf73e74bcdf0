#pragma once
// Client traffic: random transfers submitted to random nodes over virtual time, valid and
// invalid. Valid ones: ordinary transfers and account creation by endorsement. Invalid ones,
// which every node must refuse at admission: a recipient that does not exist without `create`,
// insufficient funds, a bad signature, `create` towards an existing account. And double spends:
// two different transactions with the same sender and nonce sent to two nodes, of which at most
// one may ever be committed. Transactions use real Ed25519 keys (the ledger verifies them).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/state.h"
#include "ledger/transaction.h"
#include "sim/event_queue.h"
#include "sim/random.h"

namespace tally::sim {

enum class TransactionKind : uint8_t {
  transfer,
  create_account,
  double_spend,
  unknown_recipient,
  insufficient_funds,
  bad_signature,
  create_existing,
};
std::string_view transaction_kind_name(TransactionKind kind);

struct Submission {
  size_t node = 0;
  Transaction transaction;
  TransactionKind kind = TransactionKind::transfer;
  bool must_be_refused = false;
};

class Workload {
 public:
  // Funded accounts get one key each; their addresses go into the genesis.
  Workload(Random random, std::string chain_id, size_t funded_accounts, size_t max_transactions);

  std::vector<Address> funded_addresses() const;

  // The next client action. `node_states[i]` is node i's state if it accepts clients now (up,
  // not paused), else null; `committed` is the chain as the checkers know it. May return nothing.
  std::vector<Submission> next(uint64_t now_ms, const std::vector<const State*>& node_states,
                               const State& committed);

  size_t generated() const { return generated_; }
  bool exhausted() const { return generated_ >= max_transactions_; }

 private:
  struct Account {
    SecretKey key;
    Address address;
    // A valid transaction of this account is outstanding until the committed nonce passes it
    // or this time passes (it may have been lost with a crashed node's mempool).
    uint64_t busy_until_ms = 0;
    uint64_t outstanding_nonce = 0;
  };

  std::optional<size_t> pick_idle_sender(uint64_t now_ms, const State& view,
                                         const State& committed);
  Transaction sign(const Account& from, const Address& to, uint64_t amount, uint64_t fee,
                   uint64_t nonce, bool create) const;
  Address random_existing_recipient(const State& view, const Address& not_this);
  uint64_t fee();

  Random random_;
  std::string chain_id_;
  size_t max_transactions_;
  size_t generated_ = 0;
  std::vector<Account> accounts_;
  std::vector<Account> being_created_;  // endorsed, not yet seen in the committed state
};

}  // namespace tally::sim
