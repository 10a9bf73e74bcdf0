#include "sim/checkers.h"

#include <algorithm>

namespace tally::sim {
namespace {

std::string short_hex(const Hash256& hash) {
  return hash.hex().substr(0, 16);
}

State reference_from(const Genesis& genesis) {
  Result<State> state = State::from_genesis(genesis);
  TALLY_ASSERT_MSG(state.ok(), "the simulator built an invalid genesis");
  return std::move(state).value();
}

}  // namespace

Checkers::Checkers(const Genesis& genesis, const ValidatorSet& validators,
                   const SimChecker& signatures, std::vector<Address> node_addresses,
                   std::vector<bool> honest, Counters& counters)
    : genesis_(genesis),
      validators_(validators),
      schedule_(validators),
      signatures_(signatures),
      node_addresses_(std::move(node_addresses)),
      honest_(std::move(honest)),
      counters_(counters),
      reference_(reference_from(genesis)) {
  for (size_t node = 0; node < node_addresses_.size(); ++node) {
    if (honest_[node])
      honest_addresses_.insert(node_addresses_[node]);
  }
}

void Checkers::fail(const std::string& checker, const std::string& detail, uint64_t time_ms) {
  if (violation_)
    return;  // the first one is the one to reproduce
  violation_ = Violation{checker, detail, time_ms};
}

std::optional<Hash256> Checkers::hash_at(uint64_t height) const {
  if (height == 0 || height > hashes_.size())
    return std::nullopt;
  return hashes_[height - 1];
}

// --- Agreement and validity ------------------------------------------------------------------

void Checkers::on_commit(size_t node, const DecidedBlock& decided, uint64_t time_ms) {
  if (failed())
    return;
  const Block& block = decided.block;
  uint64_t height = block.header.height;
  Hash256 hash = block.hash();
  std::string where = "node " + std::to_string(node) + " height " + std::to_string(height);
  if (decided.commit.block_hash != hash || decided.commit.height != height) {
    return fail("validity", where + ": the commit is for another block", time_ms);
  }
  if (std::optional<Hash256> known = hash_at(height)) {
    if (*known != hash) {
      return fail("agreement",
                  where + ": committed " + short_hex(hash) + " but " + short_hex(*known) +
                      " was committed first",
                  time_ms);
    }
    return;
  }
  if (height != reference_.height() + 1) {
    return fail("validity",
                where + ": first report of a height after " + std::to_string(reference_.height()) +
                    " (a gap)",
                time_ms);
  }
  if (tamper_height_ && *tamper_height_ == height) {
    Block tampered = block;
    tampered.header.state_root.data[0] ^= 0x01;
    check_first_report(tampered, decided.commit, time_ms);
  } else {
    check_first_report(block, decided.commit, time_ms);
  }
}

void Checkers::check_first_report(const Block& block, const Commit& commit, uint64_t time_ms) {
  const BlockHeader& header = block.header;
  uint64_t height = header.height;
  std::string where = "height " + std::to_string(height);
  auto invalid = [&](const std::string& what) { fail("validity", where + ": " + what, time_ms); };

  // The ledger rules first, replayed on the reference state: a block that breaks them is
  // reported as such even if something else about it is wrong too.
  std::map<Address, uint64_t> nonce_before;
  std::map<Address, uint64_t> sent_count;
  for (const Transaction& transaction : block.transactions) {
    const Address& from = transaction.transfer.from;
    if (!nonce_before.count(from)) {
      std::optional<Account> account = reference_.account(from);
      nonce_before[from] = account ? account->nonce : 0;
    }
    sent_count[from] += 1;
    if (applied_transactions_.count(transaction.hash()) != 0) {
      return invalid("transaction " + short_hex(transaction.hash()) + " applied twice");
    }
    if (!applied_nonces_.insert({from, transaction.transfer.nonce}).second) {
      return invalid("a second transaction with the same sender and nonce");
    }
  }
  Result<BlockOutcome> outcome =
      reference_.apply_block(height, header.proposer, block.transactions, direct_verifier_);
  if (!outcome.ok())
    return invalid("does not apply: " + outcome.error().message);
  if (outcome->state_root != header.state_root) {
    return invalid("state_root " + short_hex(header.state_root) + " but the transactions give " +
                   short_hex(outcome->state_root));
  }
  if (reference_.sum_of_balances() != reference_.total_supply().units) {
    return invalid("the sum of balances is not the total supply");
  }
  for (const auto& [address, before] : nonce_before) {
    std::optional<Account> account = reference_.account(address);
    if (!account || account->nonce != before + sent_count[address]) {
      return invalid("a nonce did not grow by the sender's transaction count");
    }
  }
  if (header.chain_id != genesis_.chain_id)
    return invalid("wrong chain id");
  Hash256 previous = height == 1 ? genesis_.hash() : hashes_[height - 2];
  if (header.previous_block_hash != previous)
    return invalid("previous_block_hash is not the parent");
  if (height > 1 && header.time_ms <= headers_[height - 2].time_ms)
    return invalid("time does not increase");
  if (header.validators_hash != validators_.hash())
    return invalid("wrong validators_hash");
  if (!validators_.index_of(header.proposer))
    return invalid("the proposer is not a validator");
  Status body = block.check_body_matches_header();
  if (!body.ok())
    return invalid(body.error().message);
  Status committed = verify_commit(validators_, header, commit, signatures_);
  if (!committed.ok())
    return invalid("its commit does not prove it: " + committed.error().message);
  if (height == 1) {
    if (!block.last_commit.empty())
      return invalid("the first block carries a last commit");
  } else {
    if (block.last_commit.block_hash != hashes_[height - 2]) {
      return invalid("last_commit is not for the parent");
    }
    Status parent =
        verify_commit(validators_, headers_[height - 2], block.last_commit, signatures_);
    if (!parent.ok())
      return invalid("last_commit does not prove the parent: " + parent.error().message);
  }

  // Evidence: genuine, never against an honest validator, never twice.
  for (const DuplicateVoteEvidence& evidence : block.evidence) {
    Status genuine = evidence.verify(genesis_.chain_id, signatures_);
    if (!genuine.ok())
      return invalid("evidence does not verify: " + genuine.error().message);
    if (!validators_.index_of(evidence.first.validator)) {
      return invalid("evidence against a non-validator");
    }
    if (honest_addresses_.count(evidence.first.validator) != 0) {
      return fail("accountability",
                  where + ": committed evidence accuses honest validator " +
                      evidence.first.validator.key.hex().substr(0, 16),
                  time_ms);
    }
    if (!committed_evidence_heights_.emplace(evidence.hash(), height).second) {
      return invalid("evidence committed twice");
    }
    committed_evidence_.insert(VoteKey{evidence.first.validator, evidence.first.height,
                                       evidence.first.round, uint8_t(evidence.first.type)});
    counters_.add("chain.evidence_committed");
  }

  for (const Transaction& transaction : block.transactions) {
    applied_transactions_.insert(transaction.hash());
    if (transaction.transfer.create) {
      std::optional<Account> created = reference_.account(transaction.transfer.to);
      if (!created || created->endorser != transaction.transfer.from ||
          created->created_height != height) {
        return invalid("an account created by endorsement does not record its endorser");
      }
    }
  }
  hashes_.push_back(block.hash());
  headers_.push_back(header);
  counters_.add("chain.transactions_committed", block.transactions.size());
}

// --- Honest signatures -----------------------------------------------------------------------

void Checkers::on_released(size_t node, const Message& message, const SimStorage& storage,
                           uint64_t time_ms) {
  if (failed())
    return;
  const Address& self = node_addresses_[node];
  std::string who = "honest node " + std::to_string(node);
  if (const auto* vote = std::get_if<Vote>(&message)) {
    if (vote->validator != self)
      return;
    auto key = std::make_tuple(node, vote->height, vote->round, uint8_t(vote->type));
    auto [entry, inserted] = signed_votes_.emplace(key, vote->block_hash);
    if (!inserted && entry->second != vote->block_hash) {
      return fail("double_sign",
                  who + " signed two " + std::string(vote_type_name(vote->type)) + "s at height " +
                      std::to_string(vote->height) + " round " + std::to_string(vote->round) +
                      ": " + short_hex(entry->second) + " and " + short_hex(vote->block_hash),
                  time_ms);
    }
    std::optional<ReplicaPersistentState> durable = storage.durable_replica_state();
    bool recorded = false;
    if (durable && durable->height > vote->height)
      recorded = true;
    if (durable && durable->height == vote->height) {
      for (const Vote& own : durable->own_votes) {
        recorded = recorded || (own.type == vote->type && own.round == vote->round &&
                                own.block_hash == vote->block_hash);
      }
    }
    if (!recorded) {
      return fail("double_sign",
                  who + " released a " + std::string(vote_type_name(vote->type)) + " at height " +
                      std::to_string(vote->height) + " round " + std::to_string(vote->round) +
                      " that its storage does not record",
                  time_ms);
    }
  } else if (const auto* proposal = std::get_if<Proposal>(&message)) {
    // The round's proposer signs; a block re-proposed from an earlier round keeps the header
    // of whoever built it.
    if (schedule_.proposer(proposal->height, proposal->round) != self)
      return;
    Hash256 hash = proposal->block.hash();
    auto key = std::make_tuple(node, proposal->height, proposal->round);
    auto [entry, inserted] = signed_proposals_.emplace(key, hash);
    if (!inserted && entry->second != hash) {
      return fail("double_sign",
                  who + " proposed two blocks at height " + std::to_string(proposal->height) +
                      " round " + std::to_string(proposal->round),
                  time_ms);
    }
    std::optional<ReplicaPersistentState> durable = storage.durable_replica_state();
    bool recorded = durable && (durable->height > proposal->height ||
                                (durable->height == proposal->height && durable->own_proposal &&
                                 (durable->own_proposal->round > proposal->round ||
                                  (durable->own_proposal->round == proposal->round &&
                                   durable->own_proposal->block.hash() == hash))));
    if (!recorded) {
      return fail("double_sign",
                  who + " released its proposal at height " + std::to_string(proposal->height) +
                      " round " + std::to_string(proposal->round) +
                      " before its storage recorded it",
                  time_ms);
    }
  }
}

// --- Accountability --------------------------------------------------------------------------

void Checkers::on_vote_processed(size_t node, const Vote& vote, uint64_t time_ms) {
  if (honest_addresses_.count(vote.validator) != 0)
    return;
  if (!vote.verify(genesis_.chain_id, signatures_))
    return;
  VoteKey key{vote.validator, vote.height, vote.round, uint8_t(vote.type)};
  Equivocation& equivocation = equivocations_[key];
  std::set<Hash256>& hashes = equivocation.hashes_by_node[node];
  hashes.insert(vote.block_hash);
  if (hashes.size() >= 2 && equivocation.witnesses.insert(node).second) {
    if (equivocation.witnesses.size() == 1)
      equivocation.first_seen_ms = time_ms;
    if (!equivocation.ever_witnessed)
      counters_.add("check.double_votes_witnessed");
    equivocation.ever_witnessed = true;
  }
}

void Checkers::on_crash(size_t node) {
  for (auto& [key, equivocation] : equivocations_) {
    equivocation.hashes_by_node.erase(node);
    equivocation.witnesses.erase(node);
  }
}

void Checkers::check_pending_evidence(size_t node, uint64_t node_height,
                                      const std::vector<DuplicateVoteEvidence>& pending,
                                      const std::string& node_history, uint64_t time_ms) {
  if (failed())
    return;
  for (const DuplicateVoteEvidence& evidence : pending) {
    auto committed = committed_evidence_heights_.find(evidence.hash());
    if (committed != committed_evidence_heights_.end() && committed->second <= node_height) {
      return fail("accountability",
                  "honest node " + std::to_string(node) + " at height " +
                      std::to_string(node_height) + " holds as pending evidence " +
                      short_hex(evidence.hash()) + " that was committed at height " +
                      std::to_string(committed->second) + " (the node " + node_history +
                      "): a block carrying it again is invalid",
                  time_ms);
    }
  }
}

bool Checkers::accountability_settled(uint64_t before_ms) const {
  for (const auto& [key, equivocation] : equivocations_) {
    if (!equivocation.ever_witnessed || committed_evidence_.count(key) != 0)
      continue;
    if (equivocation.witnesses.empty()) {
      if (is_pending_(key))
        return false;  // its witnesses crashed, but it spread
      continue;        // lost with its witnesses
    }
    if (equivocation.first_seen_ms < before_ms)
      return false;
  }
  return true;
}

AccountabilitySummary Checkers::finish_accountability(uint64_t before_ms, uint64_t now_ms) {
  AccountabilitySummary summary;
  for (const auto& [key, equivocation] : equivocations_) {
    if (!equivocation.ever_witnessed)
      continue;  // no honest node processed both votes
    bool committed = committed_evidence_.count(key) != 0;
    bool pending = !committed && is_pending_(key);
    if (equivocation.witnesses.empty() && !committed && !pending) {
      ++summary.lost_in_crash;  // every witness crashed before the evidence spread
      continue;
    }
    ++summary.owed;
    if (committed) {
      ++summary.committed;
    } else if (equivocation.first_seen_ms >= before_ms && pending) {
      ++summary.pending_at_end;
    } else {
      ++summary.missing;
      const auto& [validator, height, round, type] = key;
      fail("accountability",
           "double " + std::string(vote_type_name(VoteType(type))) + " by " +
               validator.key.hex().substr(0, 16) + " at height " + std::to_string(height) +
               " round " + std::to_string(round) + ", processed by honest node(s) at " +
               std::to_string(equivocation.first_seen_ms) + " ms, is not in any committed " +
               "block" + (pending ? " (still pending)" : " nor pending anywhere"),
           now_ms);
    }
  }
  return summary;
}

}  // namespace tally::sim
