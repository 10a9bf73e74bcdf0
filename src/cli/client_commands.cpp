// Commands that talk to a node's HTTP API: send, account, status, tx.

#include <httplib.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli.h"
#include "consensus/validator_set.h"
#include "crypto/keystore.h"
#include "ledger/state.h"

namespace tally::cli {
namespace {

using Json = nlohmann::json;

struct Endpoint {
  std::string scheme_host_port;
};

// GET or POST with a bounded timeout; returns the status and the parsed body.
std::pair<int, Json> request(const std::string& node, const std::string& method,
                             const std::string& path, const std::string& body = "") {
  httplib::Client client(node);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  httplib::Result result =
      method == "POST" ? client.Post(path, body, "application/json") : client.Get(path);
  if (!result)
    fail("cannot reach " + node + " (" + httplib::to_string(result.error()) + ")");
  Json parsed = Json::parse(result->body, nullptr, false);
  if (parsed.is_discarded())
    fail("the node at " + node + " sent a response that is not JSON");
  return {result->status, parsed};
}

[[noreturn]] void fail_with(const Json& body, const std::string& context) {
  if (body.contains("error")) {
    fail(context + ": " + body["error"].value("message", "unknown error") + " (" +
         body["error"].value("code", "?") + ")");
  }
  fail(context + ": unexpected response");
}

SecretKey load_key(const std::string& home, const std::string& name) {
  bool is_path =
      name.find('/') != std::string::npos || name.ends_with(".key") || name.ends_with(".json");
  std::filesystem::path path = is_path ? std::filesystem::path(name) : Keystore(home).path_of(name);
  KeyFileInfo info = unwrap(read_key_file_info(path));
  std::string passphrase =
      info.encrypted ? read_passphrase("Passphrase for " + info.name + ": ", false) : "";
  return unwrap(read_key_file(path, passphrase));
}

Amount parse_amount_option(const std::string& text, bool units, const std::string& what) {
  Result<Amount> amount = units ? parse_units(text) : parse_amount(text);
  if (!amount.ok())
    fail(what + ": " + amount.error().message);
  return *amount;
}

std::string show_amount(const std::string& units_text, bool units) {
  if (units)
    return units_text;
  Result<Amount> amount = parse_units(units_text);
  return amount.ok() ? format_amount(*amount) + " TALLY" : units_text;
}

// Checks what a node claims about an account with nothing but the genesis-free facts it can
// verify: the proof against the header's state root, and the header against a commit signed by
// more than 2/3 of a validator set whose hash the header carries.
void verify_account_proof_response(const std::string& node, const Address& address, bool present,
                                   const Json& body, bool units) {
  (void)units;
  if (!body.contains("proof") || !body.contains("header_bytes") || !body.contains("commit")) {
    fail("the node sent no proof (has it committed a block yet?)");
  }
  TreeProof proof = unwrap(TreeProof::decode(unwrap(from_hex(body["proof"].get<std::string>()))));
  Bytes header_bytes = unwrap(from_hex(body["header_bytes"].get<std::string>()));
  Reader header_reader(header_bytes);
  BlockHeader header = BlockHeader::read(header_reader);
  unwrap(header_reader.finish());
  Bytes commit_bytes = unwrap(from_hex(body["commit"].get<std::string>()));
  Reader commit_reader(commit_bytes);
  Commit commit = Commit::read(commit_reader);
  unwrap(commit_reader.finish());

  auto [code, validators_body] = request(node, "GET", "/v1/validators");
  if (code != 200)
    fail_with(validators_body, "validators");
  std::vector<Validator> members;
  for (const Json& entry : validators_body["validators"]) {
    members.push_back(
        {unwrap(Address::parse(entry.value("address", ""))), entry.value("power", uint64_t{0})});
  }
  ValidatorSet validators = unwrap(ValidatorSet::create(members));
  if (validators.hash() != header.validators_hash) {
    fail("PROOF REJECTED: the validator set does not match the header's validators_hash");
  }
  Status commit_status = verify_commit(validators, header, commit, Ed25519Checker());
  if (!commit_status.ok())
    fail("PROOF REJECTED: " + commit_status.error().message);
  std::optional<Account> account;
  if (present) {
    Account claimed;
    claimed.balance = unwrap(parse_units(body.value("balance", "")));
    claimed.nonce = body.value("nonce", uint64_t{0});
    claimed.endorser = body["endorser"].is_null()
                           ? Address{}
                           : unwrap(Address::parse(body["endorser"].get<std::string>()));
    claimed.created_height = body.value("created_height", uint64_t{0});
    account = claimed;
  }
  Status proof_status = verify_account_proof(header.state_root, address, account, proof);
  if (!proof_status.ok())
    fail("PROOF REJECTED: " + proof_status.error().message);
  uint64_t signed_power = 0;
  for (const CommitSignature& signature : commit.signatures) {
    signed_power += validators.at(*validators.index_of(signature.validator)).power;
  }
  std::cout << "proof: verified — the account " << (present ? "is" : "is absent")
            << " in the state at height " << header.height << " (root "
            << header.state_root.hex().substr(0, 16) << "…), committed by " << signed_power
            << " of " << validators.total_power() << " voting power\n";
}

struct SendOptions {
  std::string node = "http://127.0.0.1:7001";
  std::string home = default_home().string();
  std::string key;
  std::string to;
  std::string amount;
  std::string fee = "0.000001";
  bool create = false;
  bool wait = false;
  bool units = false;
  uint32_t wait_seconds = 60;
};

void send(const SendOptions& options) {
  SecretKey key = load_key(options.home, options.key);
  Address from{key.public_key()};
  Address to = unwrap(Address::parse(options.to));
  auto [status_code, status] = request(options.node, "GET", "/v1/status");
  if (status_code != 200)
    fail_with(status, "status");
  std::string chain_id = status.value("chain_id", "");
  auto [account_code, account] = request(options.node, "GET", "/v1/accounts/" + from.to_string());
  if (account_code == 404)
    fail("the sender " + from.to_string() + " has no account");
  if (account_code != 200)
    fail_with(account, "account");

  Transfer transfer;
  transfer.from = from;
  transfer.to = to;
  transfer.amount = parse_amount_option(options.amount, options.units, "--amount");
  transfer.fee = parse_amount_option(options.fee, options.units, "--fee");
  transfer.nonce = account.value("nonce", uint64_t{0});
  transfer.create = options.create;
  Transaction transaction = sign_transfer(transfer, key, chain_id);
  std::string hash = transaction.hash().hex();

  Json body = {{"tx", to_hex(transaction.encode())}};
  auto [submit_code, submitted] = request(options.node, "POST", "/v1/transactions", body.dump());
  if (submit_code != 202)
    fail_with(submitted, "the node refused the transaction");
  std::cout << hash << std::endl;
  if (!options.wait)
    return;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto [code, state] = request(options.node, "GET", "/v1/transactions/" + hash);
    std::string kind = state.value("status", "");
    if (code == 200 && kind == "committed") {
      std::cout << "committed at height " << state.value("height", uint64_t{0}) << std::endl;
      return;
    }
    if (code == 200 && kind == "rejected") {
      fail("the transaction was rejected: " + state["reason"].value("message", "") + " (" +
           state["reason"].value("code", "") + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  fail("not committed within " + std::to_string(options.wait_seconds) + " s (it may still be)");
}

}  // namespace

void add_client_commands(CLI::App& app) {
  auto options = std::make_shared<SendOptions>();
  CLI::App* send_command =
      app.add_subcommand("send", "Sign and submit a transfer; prints its hash");
  send_command->add_option("--node", options->node, "Node API URL")->capture_default_str();
  send_command->add_option("--home", options->home, "Keystore home")->capture_default_str();
  send_command->add_option("--key", options->key, "Sender key: keystore name or key file")
      ->required();
  send_command->add_option("--to", options->to, "Recipient address (tally1…)")->required();
  send_command->add_option("--amount", options->amount, "Amount in TALLY (e.g. 12.5)")->required();
  send_command->add_option("--fee", options->fee, "Fee in TALLY")->capture_default_str();
  send_command->add_flag("--create", options->create, "Endorse the recipient as a new account");
  send_command->add_flag("--wait", options->wait, "Wait until committed and print the height");
  send_command->add_option("--wait-seconds", options->wait_seconds, "How long --wait waits")
      ->capture_default_str();
  send_command->add_flag("--units", options->units, "Amounts are in base units, not TALLY");
  send_command->callback([options] { send(*options); });

  auto node = std::make_shared<std::string>("http://127.0.0.1:7001");
  auto address = std::make_shared<std::string>();
  auto prove = std::make_shared<bool>(false);
  auto units = std::make_shared<bool>(false);
  CLI::App* account = app.add_subcommand("account", "Show an account (balance, nonce, endorser)");
  account->add_option("--node", *node, "Node API URL")->capture_default_str();
  account->add_option("ADDRESS", *address, "Account address (tally1…)")->required();
  account->add_flag("--prove", *prove, "Fetch and verify a Merkle proof against a signed header");
  account->add_flag("--units", *units, "Show amounts in base units");
  account->callback([node, address, prove, units] {
    Address parsed = unwrap(Address::parse(*address));
    auto [code, body] =
        request(*node, "GET", "/v1/accounts/" + parsed.to_string() + (*prove ? "?prove=true" : ""));
    if (code != 200 && !(code == 404 && *prove)) {
      if (code == 404)
        fail("no account at " + parsed.to_string());
      fail_with(body, "account");
    }
    if (code == 200) {
      std::cout << "address: " << body.value("address", "") << "\n"
                << "balance: " << show_amount(body.value("balance", "0"), *units) << "\n"
                << "nonce: " << body.value("nonce", uint64_t{0}) << "\n"
                << "endorser: "
                << (body["endorser"].is_null() ? "genesis" : body["endorser"].get<std::string>())
                << "\n"
                << "created at height: " << body.value("created_height", uint64_t{0}) << "\n";
    } else {
      std::cout << "no account at " << parsed.to_string() << "\n";
    }
    if (*prove)
      verify_account_proof_response(*node, parsed, code == 200, body, *units);
  });

  auto status_node = std::make_shared<std::string>("http://127.0.0.1:7001");
  CLI::App* status = app.add_subcommand("status", "Show a node's status");
  status->add_option("--node", *status_node, "Node API URL")->capture_default_str();
  status->callback([status_node] {
    auto [code, body] = request(*status_node, "GET", "/v1/status");
    if (code != 200)
      fail_with(body, "status");
    std::cout << body.dump(2) << "\n";
  });

  auto tx_node = std::make_shared<std::string>("http://127.0.0.1:7001");
  auto hash = std::make_shared<std::string>();
  CLI::App* tx = app.add_subcommand("tx", "Show a transaction's status");
  tx->add_option("--node", *tx_node, "Node API URL")->capture_default_str();
  tx->add_option("HASH", *hash, "Transaction hash")->required();
  tx->callback([tx_node, hash] {
    auto [code, body] = request(*tx_node, "GET", "/v1/transactions/" + *hash);
    if (code != 200)
      fail_with(body, "transaction");
    std::cout << body.dump(2) << "\n";
  });
}

}  // namespace tally::cli
