#include "cli/bench_answers.h"

#include <nlohmann/json.hpp>

namespace tally::cli {
namespace {

using Json = nlohmann::json;

Json parse_or_discarded(std::string_view text) {
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// The count that leads an answer written as {"accepted":N,...}.
std::optional<size_t> leading_accepted_count(std::string_view answer) {
  constexpr std::string_view kPrefix = R"({"accepted":)";
  if (!answer.starts_with(kPrefix))
    return std::nullopt;
  size_t count = 0;
  size_t position = kPrefix.size();
  const size_t first_digit = position;
  while (position < answer.size() && answer[position] >= '0' && answer[position] <= '9' &&
         position - first_digit < 9) {
    count = count * 10 + static_cast<size_t>(answer[position] - '0');
    ++position;
  }
  if (position == first_digit || position == answer.size() || answer[position] != ',' ||
      (answer[first_digit] == '0' && position - first_digit > 1))
    return std::nullopt;
  return count;
}

// The hashes of `"transaction_hashes":["<hex>",...]}` closing the text, written with nothing in
// between; `head` is set to the text before that key, closed as an object.
bool read_trailing_hashes(std::string_view text, std::string& head, std::vector<Hash256>& hashes) {
  constexpr std::string_view kKey = R"(,"transaction_hashes":[)";
  const size_t key = text.rfind(kKey);
  if (key == std::string_view::npos)
    return false;
  size_t position = key + kKey.size();
  constexpr size_t kQuotedHash = 2 * Hash256::kSize + 2;
  while (position < text.size() && text[position] != ']') {
    if (!hashes.empty()) {
      if (text[position] != ',')
        return false;
      ++position;
    }
    if (text.size() - position < kQuotedHash || text[position] != '"' ||
        text[position + kQuotedHash - 1] != '"')
      return false;
    Result<Hash256> hash = Hash256::from_hex(text.substr(position + 1, 2 * Hash256::kSize));
    if (!hash.ok())
      return false;
    hashes.push_back(*hash);
    position += kQuotedHash;
  }
  if (text.substr(position) != "]}")
    return false;
  head = std::string(text.substr(0, key)) + "}";
  return true;
}

}  // namespace

std::optional<size_t> accepted_count(std::string_view answer) {
  if (std::optional<size_t> count = leading_accepted_count(answer))
    return count;
  Json body = parse_or_discarded(answer);
  if (!body.is_object() || !body.contains("accepted") || !body["accepted"].is_number_unsigned())
    return std::nullopt;
  return body["accepted"].get<size_t>();
}

std::optional<ObservedBlock> read_observed_block(std::string_view text) {
  ObservedBlock block;
  std::string head;
  Json body;
  if (read_trailing_hashes(text, head, block.transaction_hashes))
    body = parse_or_discarded(head);
  if (!body.is_object()) {  // not in the form a node writes: read it all
    block.transaction_hashes.clear();
    body = parse_or_discarded(text);
    if (!body.is_object() || !body.contains("transaction_hashes") ||
        !body["transaction_hashes"].is_array())
      return std::nullopt;
    for (const Json& item : body["transaction_hashes"]) {
      if (!item.is_string())
        return std::nullopt;
      Result<Hash256> hash = Hash256::from_hex(item.get_ref<const std::string&>());
      if (!hash.ok())
        return std::nullopt;
      block.transaction_hashes.push_back(*hash);
    }
  }
  if (!body.is_object() || !body.contains("header") || !body["header"].is_object())
    return std::nullopt;
  block.time_ms = body["header"].value("time_ms", uint64_t{0});
  return block;
}

}  // namespace tally::cli
