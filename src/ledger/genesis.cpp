#include "ledger/genesis.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/codec.h"
#include "core/file.h"
#include "ledger/transaction.h"

namespace tally {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxGenesisFileBytes = 512 * 1024 * 1024;

Error genesis_error(std::string message) {
  return make_error("invalid_genesis", std::move(message));
}

// Field access with a path in every error, so a user can find the mistake in a large file.
class JsonObject {
 public:
  JsonObject(const Json& json, std::string path) : json_(json), path_(std::move(path)) {}

  Status check_is_object() const {
    if (!json_.is_object())
      return genesis_error(path_ + " must be an object");
    return Status::success();
  }

  Status check_known_fields(std::initializer_list<std::string_view> known) const {
    for (const auto& item : json_.items()) {
      bool found = false;
      for (std::string_view name : known)
        found = found || item.key() == name;
      if (!found)
        return genesis_error("unknown field '" + item.key() + "' in " + path_);
    }
    return Status::success();
  }

  Result<const Json*> field(std::string_view name) const {
    auto found = json_.find(name);
    if (found == json_.end()) {
      return genesis_error("missing field '" + std::string(name) + "' in " + path_);
    }
    return &*found;
  }

  std::string path_of(std::string_view name) const { return path_ + "." + std::string(name); }

  Result<std::string> string(std::string_view name) const {
    auto value = field(name);
    if (!value.ok())
      return value.error();
    if (!(*value)->is_string())
      return genesis_error(path_of(name) + " must be a string");
    return (*value)->get<std::string>();
  }

  Result<uint64_t> unsigned_integer(std::string_view name) const {
    auto value = field(name);
    if (!value.ok())
      return value.error();
    if (!(*value)->is_number_unsigned()) {
      return genesis_error(path_of(name) + " must be a non-negative integer");
    }
    return (*value)->get<uint64_t>();
  }

  // Amounts are strings of base units, so no JSON number precision is ever involved.
  Result<Amount> amount(std::string_view name) const {
    auto text = string(name);
    if (!text.ok())
      return text.error();
    auto parsed = parse_units(*text);
    if (!parsed.ok())
      return genesis_error(path_of(name) + ": " + parsed.error().message);
    return *parsed;
  }

  Result<Address> address(std::string_view name) const {
    auto text = string(name);
    if (!text.ok())
      return text.error();
    auto parsed = Address::parse(*text);
    if (!parsed.ok())
      return genesis_error(path_of(name) + ": " + parsed.error().message);
    return *parsed;
  }

 private:
  const Json& json_;
  std::string path_;
};

Result<uint32_t> narrow_u32(Result<uint64_t> value, const std::string& path) {
  if (!value.ok())
    return value.error();
  if (*value > UINT32_MAX)
    return genesis_error(path + " is too large");
  return static_cast<uint32_t>(*value);
}

#define TALLY_ASSIGN(target, expression)              \
  do {                                                \
    auto tally_assign_result_ = (expression);         \
    if (!tally_assign_result_.ok()) {                 \
      return tally_assign_result_.error();            \
    }                                                 \
    target = std::move(tally_assign_result_).value(); \
  } while (false)

Result<ChainParams> parse_params(const Json& json) {
  JsonObject object(json, "params");
  TALLY_TRY(object.check_is_object());
  TALLY_TRY(
      object.check_known_fields({"min_fee", "max_block_txs", "max_block_bytes", "max_tx_bytes"}));
  ChainParams params;
  TALLY_ASSIGN(params.min_fee, object.amount("min_fee"));
  TALLY_ASSIGN(params.max_block_txs,
               narrow_u32(object.unsigned_integer("max_block_txs"), "params.max_block_txs"));
  TALLY_ASSIGN(params.max_block_bytes,
               narrow_u32(object.unsigned_integer("max_block_bytes"), "params.max_block_bytes"));
  TALLY_ASSIGN(params.max_tx_bytes,
               narrow_u32(object.unsigned_integer("max_tx_bytes"), "params.max_tx_bytes"));
  return params;
}

Result<Genesis> parse_genesis(const Json& json) {
  JsonObject root(json, "genesis");
  TALLY_TRY(root.check_is_object());
  TALLY_TRY(root.check_known_fields(
      {"chain_id", "genesis_time_ms", "total_supply", "params", "accounts", "validators"}));
  Genesis genesis;
  TALLY_ASSIGN(genesis.chain_id, root.string("chain_id"));
  TALLY_ASSIGN(genesis.genesis_time_ms, root.unsigned_integer("genesis_time_ms"));
  TALLY_ASSIGN(genesis.total_supply, root.amount("total_supply"));

  const Json* params_json = nullptr;
  TALLY_ASSIGN(params_json, root.field("params"));
  TALLY_ASSIGN(genesis.params, parse_params(*params_json));

  const Json* accounts_json = nullptr;
  TALLY_ASSIGN(accounts_json, root.field("accounts"));
  if (!accounts_json->is_array())
    return genesis_error("genesis.accounts must be an array");
  for (size_t index = 0; index < accounts_json->size(); ++index) {
    JsonObject entry((*accounts_json)[index], "accounts[" + std::to_string(index) + "]");
    TALLY_TRY(entry.check_is_object());
    TALLY_TRY(entry.check_known_fields({"address", "balance"}));
    GenesisAllocation allocation;
    TALLY_ASSIGN(allocation.address, entry.address("address"));
    TALLY_ASSIGN(allocation.balance, entry.amount("balance"));
    genesis.accounts.push_back(allocation);
  }

  const Json* validators_json = nullptr;
  TALLY_ASSIGN(validators_json, root.field("validators"));
  if (!validators_json->is_array())
    return genesis_error("genesis.validators must be an array");
  for (size_t index = 0; index < validators_json->size(); ++index) {
    JsonObject entry((*validators_json)[index], "validators[" + std::to_string(index) + "]");
    TALLY_TRY(entry.check_is_object());
    TALLY_TRY(entry.check_known_fields({"address", "power", "name"}));
    GenesisValidator validator;
    TALLY_ASSIGN(validator.address, entry.address("address"));
    TALLY_ASSIGN(validator.power, entry.unsigned_integer("power"));
    TALLY_ASSIGN(validator.name, entry.string("name"));
    genesis.validators.push_back(std::move(validator));
  }
  TALLY_TRY(genesis.validate());
  return genesis;
}

}  // namespace

Status validate_chain_id(std::string_view chain_id) {
  if (chain_id.empty() || chain_id.size() > kMaxChainIdLength) {
    return genesis_error("chain_id must be 1 to 64 characters");
  }
  for (char character : chain_id) {
    bool allowed = (character >= 'a' && character <= 'z') ||
                   (character >= '0' && character <= '9') || character == '.' || character == '_' ||
                   character == '-';
    if (!allowed) {
      return genesis_error("chain_id may contain only a-z, 0-9, '.', '_' and '-'");
    }
  }
  return Status::success();
}

Status Genesis::validate() const {
  TALLY_TRY(validate_chain_id(chain_id));
  if (total_supply.units == 0)
    return genesis_error("total_supply must be positive");
  if (accounts.empty())
    return genesis_error("accounts must not be empty");

  std::set<Address> seen;
  Amount allocated;
  for (size_t index = 0; index < accounts.size(); ++index) {
    const GenesisAllocation& allocation = accounts[index];
    if (!seen.insert(allocation.address).second) {
      return genesis_error("accounts[" + std::to_string(index) + "]: duplicate address " +
                           allocation.address.to_string());
    }
    std::optional<Amount> sum = checked_add(allocated, allocation.balance);
    if (!sum)
      return genesis_error("account balances overflow 64 bits");
    allocated = *sum;
  }
  if (allocated != total_supply) {
    return genesis_error("account balances sum to " + format_units(allocated) +
                         " units but total_supply is " + format_units(total_supply) +
                         ": they must be equal");
  }

  if (validators.empty())
    return genesis_error("validators must not be empty");
  std::set<Address> validator_addresses;
  uint64_t total_power = 0;
  for (size_t index = 0; index < validators.size(); ++index) {
    const GenesisValidator& validator = validators[index];
    std::string where = "validators[" + std::to_string(index) + "]";
    if (!validator_addresses.insert(validator.address).second) {
      return genesis_error(where + ": duplicate validator " + validator.address.to_string());
    }
    if (validator.power == 0)
      return genesis_error(where + ": power must be positive");
    if (validator.power >= kMaxTotalVotingPower - total_power) {
      return genesis_error("total validator power must stay below 2^60");
    }
    total_power += validator.power;
    if (validator.name.size() > 64)
      return genesis_error(where + ": name is over 64 characters");
  }

  if (params.max_block_txs == 0)
    return genesis_error("params.max_block_txs must be positive");
  if (params.max_tx_bytes < kTransactionEncodedSize) {
    return genesis_error("params.max_tx_bytes must be at least " +
                         std::to_string(kTransactionEncodedSize));
  }
  if (params.max_block_bytes < params.max_tx_bytes) {
    return genesis_error("params.max_block_bytes must be at least params.max_tx_bytes");
  }
  return Status::success();
}

Result<Genesis> Genesis::from_json(std::string_view text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return genesis_error("genesis is not valid JSON");
  return parse_genesis(json);
}

Result<Genesis> Genesis::load(const std::filesystem::path& path) {
  auto contents = read_file(path, kMaxGenesisFileBytes);
  if (!contents.ok())
    return contents.error();
  auto genesis = from_json(*contents);
  if (!genesis.ok()) {
    return make_error(genesis.error().code, path.string() + ": " + genesis.error().message);
  }
  return genesis;
}

std::string Genesis::to_json() const {
  Json json;
  json["chain_id"] = chain_id;
  json["genesis_time_ms"] = genesis_time_ms;
  json["total_supply"] = format_units(total_supply);
  json["params"] = {{"min_fee", format_units(params.min_fee)},
                    {"max_block_txs", params.max_block_txs},
                    {"max_block_bytes", params.max_block_bytes},
                    {"max_tx_bytes", params.max_tx_bytes}};
  Json accounts_json = Json::array();
  for (const GenesisAllocation& allocation : accounts) {
    accounts_json.push_back({{"address", allocation.address.to_string()},
                             {"balance", format_units(allocation.balance)}});
  }
  json["accounts"] = std::move(accounts_json);
  Json validators_json = Json::array();
  for (const GenesisValidator& validator : validators) {
    validators_json.push_back({{"address", validator.address.to_string()},
                               {"power", validator.power},
                               {"name", validator.name}});
  }
  json["validators"] = std::move(validators_json);
  return json.dump(2) + "\n";
}

Status Genesis::save(const std::filesystem::path& path) const {
  return write_file_atomically(path, to_json());
}

Hash256 Genesis::hash() const {
  Writer writer;
  writer.string("tally/genesis/v1");
  writer.string(chain_id);
  writer.u64(genesis_time_ms);
  writer.u64(total_supply.units);
  writer.u64(params.min_fee.units);
  writer.u32(params.max_block_txs);
  writer.u32(params.max_block_bytes);
  writer.u32(params.max_tx_bytes);
  writer.u32(static_cast<uint32_t>(accounts.size()));
  for (const GenesisAllocation& allocation : accounts) {
    writer.fixed(allocation.address.key.span());
    writer.u64(allocation.balance.units);
  }
  writer.u32(static_cast<uint32_t>(validators.size()));
  for (const GenesisValidator& validator : validators) {
    writer.fixed(validator.address.key.span());
    writer.u64(validator.power);
    writer.string(validator.name);
  }
  return sha256(writer.bytes());
}

}  // namespace tally
