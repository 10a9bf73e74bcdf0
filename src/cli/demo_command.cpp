// tally demo: the whole story on this machine, measured and checked.

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "cli/cli.h"
#include "cli/local_cluster.h"
#include "crypto/keystore.h"
#include "ledger/transaction.h"
#include "node/home.h"

namespace tally::cli {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct DemoOptions {
  size_t validators = 4;
  uint32_t seconds = 20;
  size_t accounts = 8;
  size_t created_per_account = 2;
  uint16_t p2p_port = 27101;
  uint16_t rpc_port = 27001;
  bool keep = false;
};

class Demo {
 public:
  explicit Demo(DemoOptions options) : options_(options) {}
  ~Demo() { shutdown(); }

  bool run();

 private:
  struct Sender {
    SecretKey key;
    uint64_t next_nonce = 0;
    std::deque<Hash256> outstanding;
  };

  std::optional<Json> get(size_t node, const std::string& path) {
    httplib::Client client("127.0.0.1", options_.rpc_port + static_cast<int>(node));
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(10, 0);
    auto result = client.Get(path);
    if (!result || result->status != 200)
      return std::nullopt;
    Json body = Json::parse(result->body, nullptr, false);
    if (body.is_discarded())
      return std::nullopt;
    return body;
  }
  bool post_batch(size_t node, const std::vector<Transaction>& batch) {
    Json txs = Json::array();
    for (const Transaction& transaction : batch)
      txs.push_back(to_hex(transaction.encode()));
    httplib::Client client("127.0.0.1", options_.rpc_port + static_cast<int>(node));
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(10, 0);
    auto result = client.Post("/v1/transactions", Json{{"txs", txs}}.dump(), "application/json");
    return result && result->status == 202;
  }
  uint64_t height(size_t node) {
    auto status = get(node, "/v1/status");
    return status ? status->value("height", uint64_t{0}) : 0;
  }
  void start_nodes();
  void shutdown();
  Transaction sign(Sender& sender, const Address& to, uint64_t amount, bool create);
  // Reads new blocks from node 0 and records when each known transaction was committed.
  void collect_commits();
  void progress(bool final_line);

  DemoOptions options_;
  std::filesystem::path directory_;
  Localnet localnet_;
  LocalProcesses processes_;
  std::vector<Sender> senders_;
  std::vector<Address> addresses_;
  std::map<Hash256, Clock::time_point> submitted_;
  std::vector<double> latencies_ms_;
  uint64_t committed_ = 0;
  uint64_t scanned_height_ = 0;
  Clock::time_point started_;
  bool terminal_ = ::isatty(STDOUT_FILENO) != 0;
  Clock::time_point last_progress_;
};

void Demo::start_nodes() {
  processes_.start(localnet_.nodes);
}

void Demo::shutdown() {
  processes_.stop();
  if (!directory_.empty() && !options_.keep)
    std::filesystem::remove_all(directory_);
}

Transaction Demo::sign(Sender& sender, const Address& to, uint64_t amount, bool create) {
  Transfer transfer;
  transfer.from = Address{sender.key.public_key()};
  transfer.to = to;
  transfer.amount = Amount{amount};
  transfer.fee = Amount{1000};
  transfer.nonce = sender.next_nonce++;
  transfer.create = create;
  Transaction transaction = sign_transfer(transfer, sender.key, localnet_.genesis.chain_id);
  sender.outstanding.push_back(transaction.hash());
  submitted_[transaction.hash()] = Clock::now();
  return transaction;
}

void Demo::collect_commits() {
  uint64_t tip = height(0);
  for (uint64_t next = scanned_height_ + 1; next <= tip; ++next) {
    auto block = get(0, "/v1/blocks/" + std::to_string(next));
    if (!block)
      break;
    Clock::time_point now = Clock::now();
    for (const Json& transaction : (*block)["transactions"]) {
      Result<Hash256> hash = Hash256::from_hex(transaction.value("hash", ""));
      if (!hash.ok())
        continue;
      auto sent = submitted_.find(*hash);
      if (sent == submitted_.end())
        continue;
      latencies_ms_.push_back(
          std::chrono::duration<double, std::milli>(now - sent->second).count());
      submitted_.erase(sent);
      ++committed_;
    }
    scanned_height_ = next;
  }
  for (Sender& sender : senders_) {
    while (!sender.outstanding.empty() && submitted_.count(sender.outstanding.front()) == 0) {
      sender.outstanding.pop_front();
    }
  }
}

void Demo::progress(bool final_line) {
  Clock::time_point now = Clock::now();
  if (!final_line && now - last_progress_ < std::chrono::milliseconds(terminal_ ? 250 : 2000))
    return;
  last_progress_ = now;
  double elapsed = std::chrono::duration<double>(now - started_).count();
  char line[200];
  std::snprintf(
      line, sizeof(line), "height %llu | committed %llu | %.0f tx/s | pending %zu | %.0f s",
      static_cast<unsigned long long>(scanned_height_), static_cast<unsigned long long>(committed_),
      elapsed > 0 ? static_cast<double>(committed_) / elapsed : 0.0, submitted_.size(), elapsed);
  if (terminal_) {
    std::cout << "\r" << line << "   " << (final_line ? "\n" : "") << std::flush;
  } else {
    std::cout << line << "\n" << std::flush;
  }
}

bool Demo::run() {
  directory_ =
      std::filesystem::temp_directory_path() / ("tally-demo-" + std::to_string(::getpid()));
  LocalnetOptions localnet;
  localnet.validators = options_.validators;
  localnet.accounts = options_.accounts;
  localnet.directory = directory_;
  localnet.chain_id = "tally-demo";
  localnet.p2p_base_port = options_.p2p_port;
  localnet.rpc_base_port = options_.rpc_port;
  localnet_ = unwrap(init_localnet(localnet));
  std::cout << "tally demo: " << options_.validators << " validators on 127.0.0.1 (api ports "
            << options_.rpc_port << "-" << options_.rpc_port + options_.validators - 1 << "), "
            << options_.accounts << " funded accounts, " << options_.seconds << " s of transfers\n";
  start_nodes();
  for (size_t node = 0; node < localnet_.nodes.size(); ++node) {
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (height(node) < 1) {
      if (Clock::now() > deadline)
        fail("node" + std::to_string(node) + " did not start; see its node.log");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (const std::filesystem::path& path : localnet_.account_keys) {
    senders_.push_back(Sender{unwrap(read_key_file(path, "")), 0, {}});
    addresses_.push_back(Address{senders_.back().key.public_key()});
  }

  // 1. Every funded account endorses new accounts.
  std::cout << "creating " << options_.accounts * options_.created_per_account
            << " accounts by endorsement...\n";
  started_ = Clock::now();
  std::vector<Transaction> creations;
  size_t funded = senders_.size();
  for (size_t index = 0; index < funded; ++index) {
    for (size_t count = 0; count < options_.created_per_account; ++count) {
      SecretKey key = SecretKey::generate();
      creations.push_back(
          sign(senders_[index], Address{key.public_key()}, 1'000'000'000'000, true));
      senders_.push_back(Sender{key, 0, {}});
      addresses_.push_back(Address{key.public_key()});
    }
  }
  if (!post_batch(0, creations))
    fail("the node refused the account creations");
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!submitted_.empty() && Clock::now() < deadline) {
    collect_commits();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!submitted_.empty())
    fail("the account creations were not committed within 30 s");

  // 2. Transfers among everyone, spread over every node, at most 8 outstanding per sender.
  std::cout << "sending transfers...\n";
  std::mt19937_64 random(42);
  started_ = Clock::now();
  committed_ = 0;
  latencies_ms_.clear();
  auto stop_at = started_ + std::chrono::seconds(options_.seconds);
  size_t round_robin = 0;
  while (Clock::now() < stop_at) {
    std::vector<Transaction> batch;
    for (Sender& sender : senders_) {
      while (sender.outstanding.size() < 8) {
        const Address& to = addresses_[random() % addresses_.size()];
        if (to == Address{sender.key.public_key()})
          continue;
        batch.push_back(sign(sender, to, 1 + random() % 1000, false));
      }
    }
    if (!batch.empty() && !post_batch(round_robin++ % localnet_.nodes.size(), batch)) {
      fail("a node refused a batch of transfers");
    }
    collect_commits();
    progress(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  deadline = Clock::now() + std::chrono::seconds(30);
  while (!submitted_.empty() && Clock::now() < deadline) {
    collect_commits();
    progress(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  progress(true);
  double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();

  // 3. The checks.
  bool ok = submitted_.empty();
  std::sort(latencies_ms_.begin(), latencies_ms_.end());
  auto percentile = [&](double fraction) {
    if (latencies_ms_.empty())
      return 0.0;
    return latencies_ms_[std::min(latencies_ms_.size() - 1,
                                  static_cast<size_t>(fraction * latencies_ms_.size()))];
  };
  std::cout << "\nsummary\n";
  std::printf("  transactions committed  %llu (%zu still pending)\n",
              static_cast<unsigned long long>(committed_), submitted_.size());
  std::printf("  throughput              %.0f tx/s\n", static_cast<double>(committed_) / elapsed);
  std::printf("  commit latency          p50 %.0f ms, p99 %.0f ms (submit to seen in a block)\n",
              percentile(0.50), percentile(0.99));

  std::cout << "  balances (node0 / node" << localnet_.nodes.size() - 1 << "):\n";
  for (size_t index : {size_t{0}, funded, addresses_.size() - 1}) {
    auto first = get(0, "/v1/accounts/" + addresses_[index].to_string());
    auto last = get(localnet_.nodes.size() - 1, "/v1/accounts/" + addresses_[index].to_string());
    std::string a = first ? first->value("balance", "?") : "?";
    std::string b = last ? last->value("balance", "?") : "?";
    std::cout << "    " << addresses_[index].to_string().substr(0, 20) << "…  "
              << format_amount(unwrap(parse_units(a))) << " / "
              << format_amount(unwrap(parse_units(b))) << " TALLY" << (a == b ? "" : "  MISMATCH")
              << "\n";
    ok = ok && a == b;
  }

  // Every account that exists: the funded ones, the created ones and the validators'.
  unsigned __int128 supply = 0;
  std::vector<Address> everyone = addresses_;
  for (const GenesisValidator& validator : localnet_.genesis.validators)
    everyone.push_back(validator.address);
  for (const Address& address : everyone) {
    auto account = get(0, "/v1/accounts/" + address.to_string());
    if (account)
      supply += unwrap(parse_units(account->value("balance", "0"))).units;
  }
  bool supply_ok = supply == localnet_.genesis.total_supply.units;
  ok = ok && supply_ok;
  std::cout << "  supply check            " << (supply_ok ? "ok" : "FAILED") << ": "
            << format_amount(Amount{static_cast<uint64_t>(supply)}) << " TALLY in "
            << everyone.size() << " accounts, genesis "
            << format_amount(localnet_.genesis.total_supply) << "\n";

  // The same state root everywhere, at one height.
  uint64_t common = height(0);
  std::set<std::string> roots;
  std::cout << "  state root at height " << common << ":\n";
  for (size_t node = 0; node < localnet_.nodes.size(); ++node) {
    auto wait_until = Clock::now() + std::chrono::seconds(20);
    while (height(node) < common && Clock::now() < wait_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto block = get(node, "/v1/blocks/" + std::to_string(common));
    std::string root = block ? (*block)["header"].value("state_root", "?") : "unreachable";
    roots.insert(root);
    std::cout << "    node" << node << "  " << root << "\n";
  }
  ok = ok && roots.size() == 1;
  std::cout << (ok ? "\nall checks passed\n" : "\nSOME CHECKS FAILED\n");
  return ok;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo", "Run a local network, create accounts, send transfers, check everything");
  demo->add_option("--validators", options->validators, "Validators")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  demo->add_option("--seconds", options->seconds, "Seconds of transfers")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  demo->add_option("--accounts", options->accounts, "Funded accounts")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  demo->add_option("--rpc-port", options->rpc_port, "API port of node0")->capture_default_str();
  demo->add_option("--p2p-port", options->p2p_port, "P2P port of node0")->capture_default_str();
  demo->add_flag("--keep", options->keep, "Keep the temporary directory");
  demo->callback([options] {
    Demo demo(*options);
    if (!demo.run())
      fail("the demo's checks failed");
  });
}

}  // namespace tally::cli
