#pragma once
// How the load generator reads the node's answers. At full load it reads, per transaction, a
// submission result and a block entry; read in full by the JSON library they cost the generator
// ~2 µs per transaction, on the same cores as the validators it measures. So both are first read
// in the exact form a Tally node writes them (rpc/submission.h, rpc/json.h), and any other text
// in full by the JSON library.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "crypto/sha256.h"

namespace tally::cli {

// The "accepted" count of a submission answer, or nullopt when the text is not JSON with one.
std::optional<size_t> accepted_count(std::string_view answer);

struct ObservedBlock {
  uint64_t time_ms = 0;  // the header's
  std::vector<Hash256> transaction_hashes;
};

// A block from GET /v1/blocks/{height}?transactions=hashes; nullopt when the text is not one.
std::optional<ObservedBlock> read_observed_block(std::string_view text);

}  // namespace tally::cli
