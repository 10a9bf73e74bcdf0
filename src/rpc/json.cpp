#include "rpc/json.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace tally {
namespace {

using Json = nlohmann::json;

Json address_or_null(const Address& address) {
  return address.key.is_zero() ? Json(nullptr) : Json(address.to_string());
}

}  // namespace

Json header_json(const BlockHeader& header) {
  return {{"chain_id", header.chain_id},
          {"height", header.height},
          {"time_ms", header.time_ms},
          {"hash", header.hash().hex()},
          {"previous_block_hash", header.previous_block_hash.hex()},
          {"transactions_root", header.transactions_root.hex()},
          {"state_root", header.state_root.hex()},
          {"validators_hash", header.validators_hash.hex()},
          {"next_validators_hash", header.next_validators_hash.hex()},
          {"last_commit_hash", header.last_commit_hash.hex()},
          {"evidence_hash", header.evidence_hash.hex()},
          {"proposer", header.proposer.to_string()}};
}

Json state_sync_json(const Node& node) {
  const StateSyncProgress& sync = node.state_sync();
  const char* phase = sync.phase == StateSyncProgress::Phase::probing       ? "probing"
                      : sync.phase == StateSyncProgress::Phase::downloading ? "downloading"
                                                                            : "done";
  return {{"phase", phase},
          {"height", sync.height},
          {"chunks_done", sync.chunks_done},
          {"chunks_total", sync.chunks_total},
          {"peers_dropped", sync.peers_dropped}};
}

Json status_json(const Node& node) {
  if (!node.consensus_started()) {
    return {{"chain_id", node.genesis().chain_id},
            {"node_id", node.node_id().hex()},
            {"moniker", node.config().moniker},
            {"height", 0},
            {"latest_block_hash", nullptr},
            {"latest_block_time", nullptr},
            {"state_root", nullptr},
            {"peers", node.transport().peer_count()},
            {"syncing", true},
            {"validator", node.is_validator()},
            {"state_sync", state_sync_json(node)}};
  }
  const Engine& engine = node.engine();
  const BlockHeader* latest = engine.last_header();
  Json body = {{"chain_id", node.genesis().chain_id},
               {"node_id", node.node_id().hex()},
               {"moniker", node.config().moniker},
               {"height", engine.height()},
               {"latest_block_hash", latest ? Json(latest->hash().hex()) : Json(nullptr)},
               {"latest_block_time", latest ? Json(latest->time_ms) : Json(nullptr)},
               {"state_root", engine.state().state_root().hex()},
               {"peers", node.transport().peer_count()},
               {"syncing", node.syncing()},
               {"validator", node.is_validator()},
               {"round", engine.replica().round()},
               {"mempool_size", node.mempool().size()},
               {"state_sync", state_sync_json(node)}};
  if (auto address = node.validator_address())
    body["validator_address"] = address->to_string();
  return body;
}

Json account_json(Node& node, const Address& address, bool prove, bool& found) {
  const State& state = node.engine().state();
  std::optional<Account> account = state.account(address);
  found = account.has_value();
  Json body;
  if (account) {
    body = {{"address", address.to_string()},
            {"balance", format_units(account->balance)},
            {"nonce", account->nonce},
            {"endorser", address_or_null(account->endorser)},
            {"created_height", account->created_height}};
  }
  if (prove) {
    body["proof"] = to_hex(state.prove(address).encode());
    body["state_root"] = state.state_root().hex();
    body["height"] = node.engine().height();
    if (const BlockHeader* header = node.engine().last_header()) {
      std::optional<DecidedBlock> latest = node.storage().load_decided_block(header->height);
      body["header"] = header_json(*header);
      Writer header_bytes;
      header->write(header_bytes);
      body["header_bytes"] = to_hex(header_bytes.bytes());
      if (latest) {
        Writer commit_bytes;
        latest->commit.write(commit_bytes);
        body["commit"] = to_hex(commit_bytes.bytes());
      }
    }
  }
  return body;
}

Json transaction_status_json(const Hash256& hash, const TransactionStatus& status) {
  Json body = {{"hash", hash.hex()}};
  switch (status.kind) {
    case TransactionStatus::Kind::pending:
      body["status"] = "pending";
      break;
    case TransactionStatus::Kind::committed:
      body["status"] = "committed";
      body["height"] = status.height;
      break;
    case TransactionStatus::Kind::rejected:
      body["status"] = "rejected";
      body["reason"] = {{"code", status.reason.code}, {"message", status.reason.message}};
      break;
    case TransactionStatus::Kind::unknown:
      body["status"] = "unknown";
      break;
  }
  return body;
}

std::string block_text(const DecidedBlock& decided, bool hashes_only) {
  const Block& block = decided.block;
  Json signatures = Json::array();
  for (const CommitSignature& signature : decided.commit.signatures) {
    signatures.push_back(
        {{"validator", signature.validator.to_string()}, {"signature", signature.signature.hex()}});
  }
  Json body = {{"header", header_json(block.header)},
               {"evidence", block.evidence.size()},
               {"commit", {{"round", decided.commit.round}, {"signatures", signatures}}}};
  if (!hashes_only) {
    Json transactions = Json::array();
    for (size_t index = 0; index < block.transactions.size(); ++index) {
      const Transfer& transfer = block.transactions[index].transfer;
      transactions.push_back({{"hash", block.transactions[index].hash().hex()},
                              {"from", transfer.from.to_string()},
                              {"to", transfer.to.to_string()},
                              {"amount", format_units(transfer.amount)},
                              {"fee", format_units(transfer.fee)},
                              {"nonce", transfer.nonce},
                              {"create", transfer.create}});
    }
    body["transactions"] = std::move(transactions);
    return body.dump();
  }
  // The bench's observer reads every committed transaction this way: the hashes are written as
  // text, not as a document of thousands of strings. "transaction_hashes" sorts after every
  // other key, so appending it gives the same text as the library would.
  std::string text = body.dump();
  TALLY_ASSERT(text.back() == '}');
  text.pop_back();
  text.reserve(text.size() + block.transactions.size() * 67 + 32);
  text += R"(,"transaction_hashes":[)";
  for (size_t index = 0; index < block.transactions.size(); ++index) {
    if (index > 0)
      text += ',';
    text += '"';
    append_hex(text, block.transactions[index].hash().span());
    text += '"';
  }
  text += "]}";
  return text;
}

Json validators_json(const Node& node) {
  const ValidatorSet& validators = node.engine().validators();
  Json list = Json::array();
  for (const Validator& validator : validators.validators()) {
    std::string name;
    for (const GenesisValidator& entry : node.genesis().validators) {
      if (entry.address == validator.address)
        name = entry.name;
    }
    list.push_back(
        {{"address", validator.address.to_string()}, {"power", validator.power}, {"name", name}});
  }
  return {{"height", node.engine().height()},
          {"total_power", validators.total_power()},
          {"hash", validators.hash().hex()},
          {"validators", list}};
}

std::string metrics_text(const Node& node) {
  const NodeCounters& counters = node.counters();
  std::ostringstream out;
  auto metric = [&out](const char* name, const char* type, const char* help, uint64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
        << name << " " << value << "\n";
  };
  metric("tally_height", "gauge", "Last committed height.", node.engine().height());
  metric("tally_round", "gauge", "Consensus round at the current height.",
         node.engine().replica().round());
  metric("tally_blocks_committed_total", "counter", "Blocks committed since start.",
         counters.blocks_committed);
  metric("tally_transactions_committed_total", "counter", "Transactions committed since start.",
         counters.transactions_committed);
  metric("tally_mempool_transactions", "gauge", "Transactions in the mempool.",
         node.mempool().size());
  metric("tally_mempool_bytes", "gauge", "Bytes of transactions in the mempool.",
         node.mempool().bytes());
  metric("tally_peers", "gauge", "Connected peers.", node.transport().peer_count());
  metric("tally_signatures_verified_total", "counter", "Transaction signatures verified.",
         node.mempool().signatures_verified());
  metric("tally_p2p_messages_received_total", "counter", "Messages received from peers.",
         counters.messages_received);
  metric("tally_p2p_messages_rejected_total", "counter", "Undecodable messages from peers.",
         counters.messages_rejected);
  metric("tally_p2p_transaction_messages_received_total", "counter",
         "Messages from peers carrying whole transactions.",
         counters.transaction_messages_received);
  metric("tally_p2p_transactions_received_total", "counter",
         "Whole transactions received from peers (copies included).",
         counters.gossiped_transactions_received);
  metric("tally_p2p_transaction_announcements_received_total", "counter",
         "Messages from peers announcing transactions by hash.",
         counters.transaction_announcements_received);
  metric("tally_last_block_transactions", "gauge", "Transactions in the last block.",
         counters.last_block_transactions);
  metric("tally_last_block_bytes", "gauge", "Bytes of transactions in the last block.",
         counters.last_block_bytes);
  metric("tally_last_commit_latency_ms", "gauge", "From the last block's time to its commit here.",
         counters.last_commit_latency_ms);
  metric("tally_verify_queue", "gauge", "Transaction batches waiting for signature verification.",
         node.verify_queue());
  metric("tally_signature_cpu_ns_total", "counter",
         "CPU time spent checking transaction signatures, in nanoseconds.",
         node.signature_cpu_ns());
  metric("tally_signature_checks_total", "counter",
         "Transaction signatures checked with Ed25519, on every thread.", node.signature_checks());
  // The usual process metrics, so CPU per transaction and memory can be read from outside.
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  double cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  out << "# HELP process_cpu_seconds_total User and system CPU time of the node.\n"
      << "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total " << cpu_seconds
      << "\n";
  long pages_total = 0;
  long pages_resident = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2)
      pages_resident = 0;
    std::fclose(statm);
  }
  metric("process_resident_memory_bytes", "gauge", "Resident memory of the node.",
         static_cast<uint64_t>(pages_resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  out << "# HELP tally_commit_latency_ms From a block's time to its commit here.\n"
      << "# TYPE tally_commit_latency_ms histogram\n";
  for (size_t bucket = 0; bucket < NodeCounters::kLatencyBucketsMs.size(); ++bucket) {
    uint64_t bound = NodeCounters::kLatencyBucketsMs[bucket];
    out << "tally_commit_latency_ms_bucket{le=\""
        << (bound == UINT64_MAX ? "+Inf" : std::to_string(bound)) << "\"} "
        << counters.latency_buckets[bucket] << "\n";
  }
  out << "tally_commit_latency_ms_sum " << counters.latency_sum_ms << "\n"
      << "tally_commit_latency_ms_count " << counters.latency_count << "\n";
  return out.str();
}

}  // namespace tally
