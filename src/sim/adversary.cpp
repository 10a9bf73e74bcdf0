#include "sim/adversary.h"

#include <algorithm>

namespace tally::sim {
namespace {

constexpr size_t kSentRingSize = 64;
constexpr uint32_t kInvalidVotePpm = 250'000;
constexpr uint32_t kDoubleVotePpm = 350'000;
constexpr uint32_t kEquivocateProposalPpm = 500'000;
constexpr uint32_t kReplayPpm = 50'000;
constexpr uint32_t kMalformedPpm = 40'000;

}  // namespace

SharedBytes share(Bytes bytes) {
  return std::make_shared<const Bytes>(std::move(bytes));
}

std::string ByzantineBehaviours::describe() const {
  std::string text;
  auto add = [&](bool on, const char* name) {
    if (!on)
      return;
    if (!text.empty())
      text += ",";
    text += name;
  };
  add(equivocate_proposals, "equivocate_proposals");
  add(double_votes, "double_votes");
  add(invalid_votes, "invalid_votes");
  add(withhold, "withhold");
  add(amnesia, "amnesia");
  add(replay, "replay");
  add(malformed, "malformed");
  add(split_brain, "split_brain");
  return text.empty() ? "none" : text;
}

Adversary::Adversary(Random random, Counters& counters, std::string chain_id,
                     const ValidatorSet& validators, size_t nodes)
    : random_(random),
      counters_(counters),
      chain_id_(std::move(chain_id)),
      nodes_(nodes),
      schedule_(validators) {
  plan_.group_of_node.assign(nodes, 0);
}

SharedBytes Adversary::signed_vote(const SimNode& node, VoteType type, uint64_t height,
                                   uint32_t round, const Hash256& block_hash) {
  Vote vote;
  vote.type = type;
  vote.height = height;
  vote.round = round;
  vote.block_hash = block_hash;
  vote.sign(chain_id_, node.signer);
  return share(encode_message(Message{vote}));
}

void Adversary::tamper_proposal(SimNode& node, const Proposal& proposal,
                                const std::vector<size_t>& targets,
                                std::vector<std::vector<SharedBytes>>& per_target) {
  // Bounded memory: forget proposals of heights long past (the map is ordered by height).
  while (node.alt_proposals.size() > 64)
    node.alt_proposals.erase(node.alt_proposals.begin());
  auto key = std::make_pair(proposal.height, proposal.round);
  auto found = node.alt_proposals.find(key);
  if (found == node.alt_proposals.end()) {
    bool equivocate = node.behaviours.split_brain || (node.behaviours.equivocate_proposals &&
                                                      random_.chance(kEquivocateProposalPpm));
    if (!equivocate) {
      node.alt_proposals.emplace(key, std::make_pair(proposal, std::vector<bool>()));
      return;
    }
    // Same block, another time: valid, and a different hash.
    Proposal alternative = proposal;
    alternative.block.header.time_ms += random_.range(1, 50);
    alternative.sign(chain_id_, node.signer);
    std::vector<bool> gets_alternative(nodes_, false);
    for (size_t peer = 0; peer < nodes_; ++peer) {
      gets_alternative[peer] =
          node.behaviours.split_brain ? plan_.group_of_node[peer] == 1 : random_.coin();
    }
    if (node.behaviours.split_brain) {
      plan_.variants[key] = {proposal.block.hash(), alternative.block.hash()};
    }
    counters_.add("byz.equivocate_proposal");
    found = node.alt_proposals.emplace(key, std::make_pair(alternative, gets_alternative)).first;
  }

  const auto& [alternative, gets_alternative] = found->second;
  if (gets_alternative.empty())
    return;
  SharedBytes alternative_bytes = share(encode_message(Message{alternative}));
  for (size_t index = 0; index < targets.size(); ++index) {
    if (gets_alternative[targets[index]])
      per_target[index] = {alternative_bytes};
  }
}

void Adversary::tamper_vote(SimNode& node, const Vote& vote, const std::vector<size_t>& targets,
                            std::vector<std::vector<SharedBytes>>& per_target) {
  if (node.behaviours.split_brain) {
    auto variants = plan_.variants.find({vote.height, vote.round});
    if (variants == plan_.variants.end())
      return;
    // Both votes at once, to each group its own block: with >= 1/3 of the power this is
    // enough for each group to decide a different block.
    std::array<std::vector<SharedBytes>, 2> for_group;
    for (int group = 0; group < 2; ++group) {
      const Hash256& hash = variants->second[group];
      for_group[group].push_back(
          signed_vote(node, VoteType::prevote, vote.height, vote.round, hash));
      for_group[group].push_back(
          signed_vote(node, VoteType::precommit, vote.height, vote.round, hash));
    }
    for (size_t index = 0; index < targets.size(); ++index) {
      int group = std::max(plan_.group_of_node[targets[index]], 0);
      per_target[index] = for_group[group];
    }
    counters_.add("byz.split_vote");
    return;
  }

  auto key = std::make_tuple(vote.height, vote.round, uint8_t(vote.type));
  auto found = node.vote_tampers.find(key);
  if (found == node.vote_tampers.end()) {
    SimNode::VoteTamper tamper;
    if (node.behaviours.invalid_votes && random_.chance(kInvalidVotePpm)) {
      tamper.kind = SimNode::VoteTamper::Kind::invalid;
      tamper.other_hash = random_.hash();
      tamper.receives.assign(nodes_, 1);
      counters_.add("byz.invalid_vote");
    } else if (node.behaviours.double_votes && random_.chance(kDoubleVotePpm)) {
      tamper.kind = SimNode::VoteTamper::Kind::conflicting;
      auto alternative = node.alt_proposals.find({vote.height, vote.round});
      if (!vote.is_nil() && random_.coin()) {
        tamper.other_hash = Hash256{};  // nil
      } else if (alternative != node.alt_proposals.end() && !alternative->second.second.empty() &&
                 alternative->second.first.block.hash() != vote.block_hash) {
        tamper.other_hash = alternative->second.first.block.hash();
      } else {
        tamper.other_hash = random_.hash();
      }
      tamper.receives.resize(nodes_);
      for (uint8_t& receives : tamper.receives)
        receives = uint8_t(random_.below(3));
      counters_.add("byz.double_vote");
    }
    // Bounded memory: forget decisions about heights long past.
    while (node.vote_tampers.size() >= 256)
      node.vote_tampers.erase(node.vote_tampers.begin());
    found = node.vote_tampers.emplace(key, std::move(tamper)).first;
  }
  const SimNode::VoteTamper& tamper = found->second;
  if (tamper.kind == SimNode::VoteTamper::Kind::none)
    return;
  SharedBytes other = signed_vote(node, vote.type, vote.height, vote.round, tamper.other_hash);
  for (size_t index = 0; index < targets.size(); ++index) {
    switch (tamper.receives[targets[index]]) {
      case 0:
        break;
      case 1:
        per_target[index] = {other};
        break;
      default:
        per_target[index].push_back(other);
        break;
    }
  }
}

bool Adversary::withheld(SimNode& node, size_t to, uint64_t now_ms) {
  if (!node.behaviours.withhold)
    return false;
  if (now_ms >= node.withhold_until_ms) {
    node.withhold_until_ms = now_ms + random_.range(500, 3000);
    node.withheld_to.assign(nodes_, false);
    uint64_t mode = random_.below(3);  // 0: nobody, 1: everybody, 2: a random subset
    for (size_t peer = 0; peer < nodes_; ++peer) {
      node.withheld_to[peer] = mode == 1 || (mode == 2 && random_.coin());
    }
  }
  return node.withheld_to[to];
}

void Adversary::remember_sent(SimNode& node, const Wire& wire) {
  if (!node.behaviours.replay)
    return;
  if (node.sent_ring.size() < kSentRingSize) {
    node.sent_ring.push_back({wire.to, wire.bytes});
  } else {
    node.sent_ring[node.sent_ring_next] = {wire.to, wire.bytes};
    node.sent_ring_next = (node.sent_ring_next + 1) % kSentRingSize;
  }
}

std::vector<Wire> Adversary::tamper(SimNode& node, std::vector<Envelope> envelopes,
                                    uint64_t now_ms) {
  std::vector<Wire> wires;
  const Address self = node.signer.address();
  for (Envelope& envelope : envelopes) {
    std::vector<size_t> targets;
    if (envelope.to) {
      if (*envelope.to < nodes_ && *envelope.to != node.index)
        targets.push_back(size_t(*envelope.to));
    } else {
      for (size_t peer = 0; peer < nodes_; ++peer) {
        if (peer != node.index && (!envelope.except || *envelope.except != peer))
          targets.push_back(peer);
      }
    }
    if (targets.empty())
      continue;
    std::vector<std::vector<SharedBytes>> per_target(targets.size(),
                                                     {share(encode_message(envelope.message))});
    if (const auto* proposal = std::get_if<Proposal>(&envelope.message)) {
      if (schedule_.proposer(proposal->height, proposal->round) == self)
        tamper_proposal(node, *proposal, targets, per_target);
    } else if (const auto* vote = std::get_if<Vote>(&envelope.message)) {
      if (vote->validator == self)
        tamper_vote(node, *vote, targets, per_target);
    }
    for (size_t index = 0; index < targets.size(); ++index) {
      if (withheld(node, targets[index], now_ms)) {
        counters_.add("byz.withheld_message");
        continue;
      }
      for (const SharedBytes& bytes : per_target[index]) {
        wires.push_back(Wire{targets[index], bytes});
      }
    }
  }
  for (const Wire& wire : wires)
    remember_sent(node, wire);

  auto random_peer = [&] {
    size_t peer = random_.below(nodes_ - 1);
    return peer >= node.index ? peer + 1 : peer;
  };
  if (node.behaviours.replay && !node.sent_ring.empty() && random_.chance(kReplayPpm)) {
    const auto& old = node.sent_ring[random_.below(node.sent_ring.size())];
    wires.push_back(Wire{random_peer(), old.second});
    counters_.add("byz.replay");
  }
  if (node.behaviours.malformed && random_.chance(kMalformedPpm)) {
    Bytes garbage;
    uint64_t shape = random_.below(3);
    if (shape == 0 || wires.empty()) {
      garbage.resize(random_.range(0, 200));
      for (uint8_t& byte : garbage)
        byte = uint8_t(random_.next());
      if (!garbage.empty() && random_.coin())
        garbage[0] = uint8_t(random_.range(1, 7));
    } else {
      garbage = *wires[random_.below(wires.size())].bytes;
      if (shape == 1) {
        garbage.resize(random_.below(garbage.size()));  // truncated
      } else {
        uint64_t flips = random_.range(1, 3);
        for (uint64_t flip = 0; flip < flips; ++flip) {
          garbage[random_.below(garbage.size())] ^= uint8_t(1u << random_.below(8));
        }
      }
    }
    wires.push_back(Wire{random_peer(), share(std::move(garbage))});
    counters_.add("byz.malformed");
  }
  return wires;
}

void Adversary::amnesia(SimNode& node) {
  if (!node.up || !node.engine)
    return;
  node.engine->replica_for_testing().forget_lock_for_testing();
  counters_.add("byz.amnesia");
}

}  // namespace tally::sim
