#pragma once
// JSON views of node state for the API. All functions that take a Node run on its event loop.
// Amounts are strings of base units, addresses "tally1…", hashes and binary blobs hex.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/node.h"

namespace tally {

nlohmann::json status_json(const Node& node);
// `found` tells whether the account exists; with `prove` the result carries the proof (of
// inclusion or absence), the latest header and its commit.
nlohmann::json account_json(Node& node, const Address& address, bool prove, bool& found);
nlohmann::json transaction_status_json(const Hash256& hash, const TransactionStatus& status);
// A committed block as JSON text. With `hashes_only`, "transaction_hashes" (hex) replaces the full
// "transactions" list: what a client that only tracks its own transactions needs, at a fraction
// of the size.
std::string block_text(const DecidedBlock& decided, bool hashes_only);
nlohmann::json validators_json(const Node& node);
std::string metrics_text(const Node& node);

nlohmann::json header_json(const BlockHeader& header);

}  // namespace tally
