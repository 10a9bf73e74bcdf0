#include "rpc/submission.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "core/assert.h"

namespace tally {
namespace {

using Json = nlohmann::json;

int http_status_for(const Error& error) {
  if (error.code == "mempool_full" || error.code == "too_many_pending")
    return 503;
  return 400;
}

// Reads the body as clients send it: one key, strings of plain hex, nothing else. Gives up
// (nullopt) at the first thing outside that shape, valid JSON or not, and on anything the
// general path would refuse, so that the general path decides every other case.
class PlainSubmissionReader {
 public:
  PlainSubmissionReader(std::string_view text, size_t max_batch, size_t max_transaction_bytes)
      : text_(text), max_batch_(max_batch), max_transaction_bytes_(max_transaction_bytes) {}

  std::optional<Submission> read() {
    Submission submission;
    if (!consume('{'))
      return std::nullopt;
    std::optional<std::string_view> key = plain_string();
    if (!key || !consume(':'))
      return std::nullopt;
    if (*key == "tx") {
      submission.single = true;
      if (!transaction(submission.transactions))
        return std::nullopt;
    } else if (*key == "txs") {
      if (!consume('['))
        return std::nullopt;
      do {
        if (submission.transactions.size() == max_batch_ || !transaction(submission.transactions))
          return std::nullopt;
      } while (consume(','));
      if (!consume(']'))
        return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (!consume('}'))
      return std::nullopt;
    skip_space();
    if (position_ != text_.size())
      return std::nullopt;
    return submission;
  }

 private:
  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r'))
      ++position_;
  }

  bool consume(char expected) {
    skip_space();
    if (position_ == text_.size() || text_[position_] != expected)
      return false;
    ++position_;
    return true;
  }

  // A string without escapes: its characters between the quotes.
  std::optional<std::string_view> plain_string() {
    if (!consume('"'))
      return std::nullopt;
    const size_t closing = text_.find('"', position_);
    if (closing == std::string_view::npos)
      return std::nullopt;
    std::string_view content = text_.substr(position_, closing - position_);
    if (content.find('\\') != std::string_view::npos)
      return std::nullopt;
    position_ = closing + 1;
    return content;
  }

  // One transaction in canonical hex; decoded into `out`.
  bool transaction(std::vector<Transaction>& out) {
    std::optional<std::string_view> hex = plain_string();
    if (!hex || kTransactionEncodedSize > max_transaction_bytes_ ||
        hex->size() != 2 * kTransactionEncodedSize)
      return false;
    EncodedTransaction bytes;
    if (!from_hex_into(*hex, bytes).ok())
      return false;
    Result<Transaction> decoded = Transaction::decode(bytes);
    if (!decoded.ok())
      return false;
    if (out.empty())
      out.reserve(std::min(max_batch_, text_.size() / (2 * kTransactionEncodedSize)));
    out.push_back(*decoded);
    return true;
  }

  std::string_view text_;
  size_t position_ = 0;
  size_t max_batch_;
  size_t max_transaction_bytes_;
};

void append_quoted_hex(std::string& out, const Hash256& hash) {
  out += '"';
  append_hex(out, hash.span());
  out += '"';
}

// The "results" list, and how many were accepted.
std::string results_text(std::span<const Hash256> hashes, std::span<const Status> outcomes,
                         size_t& accepted) {
  accepted = 0;
  std::string out;
  out.reserve(hashes.size() * 96 + 2);
  out += '[';
  for (size_t index = 0; index < hashes.size(); ++index) {
    if (index > 0)
      out += ',';
    const Status& outcome = outcomes[index];
    // Re-sending a transaction the node already has is not an error: it is pending.
    if (outcome.ok() || outcome.error().code == "duplicate") {
      accepted++;
      out += R"({"accepted":true,"hash":)";
    } else {
      out += R"({"accepted":false,"error":)";
      out += Json{{"code", outcome.error().code}, {"message", outcome.error().message}}.dump();
      out += R"(,"hash":)";
    }
    append_quoted_hex(out, hashes[index]);
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace

Result<Submission> parse_submission(std::string_view text, size_t max_batch,
                                    size_t max_transaction_bytes) {
  std::optional<Submission> plain =
      PlainSubmissionReader(text, max_batch, max_transaction_bytes).read();
  if (plain)
    return std::move(*plain);
  return parse_submission_document(text, max_batch, max_transaction_bytes);
}

Result<Submission> parse_submission_document(std::string_view text, size_t max_batch,
                                             size_t max_transaction_bytes) {
  Json body = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return make_error("invalid_json", "the body must be a JSON object");
  auto invalid = [](std::string message) {
    return make_error("invalid_request", std::move(message));
  };
  bool single = body.contains("tx");
  bool batch = body.contains("txs");
  if (single == batch)
    return invalid("send either \"tx\": \"<hex>\" or \"txs\": [\"<hex>\", …]");
  for (const auto& item : body.items()) {
    if (item.key() != "tx" && item.key() != "txs")
      return invalid("unknown field \"" + item.key() + "\"");
  }
  std::vector<const Json*> items;
  if (single) {
    items.push_back(&body["tx"]);
  } else {
    const Json& list = body["txs"];
    if (!list.is_array())
      return invalid("\"txs\" must be an array of hex strings");
    if (list.empty())
      return invalid("\"txs\" is empty");
    if (list.size() > max_batch) {
      return make_error("batch_too_large", std::to_string(list.size()) + " transactions; at most " +
                                               std::to_string(max_batch) + " per request");
    }
    for (const Json& item : list)
      items.push_back(&item);
  }
  Submission submission;
  submission.single = single;
  std::vector<Transaction>& transactions = submission.transactions;
  transactions.reserve(items.size());
  for (size_t index = 0; index < items.size(); ++index) {
    std::string where = single ? "tx" : "txs[" + std::to_string(index) + "]";
    if (!items[index]->is_string())
      return invalid(where + " must be a hex string");
    const std::string& text = items[index]->get_ref<const std::string&>();
    if (text.size() > 2 * max_transaction_bytes) {
      return make_error(
          "invalid_transaction",
          where + " is larger than " + std::to_string(max_transaction_bytes) + " bytes");
    }
    Result<Bytes> bytes = from_hex(text);
    if (!bytes.ok())
      return make_error("invalid_hex", where + ": " + bytes.error().message);
    Result<Transaction> transaction = Transaction::decode(*bytes);
    if (!transaction.ok()) {
      return make_error("invalid_transaction", where + ": " + transaction.error().message);
    }
    transactions.push_back(*transaction);
  }
  return submission;
}

HttpAnswer submission_answer(bool single, std::span<const Hash256> hashes,
                             std::span<const Status> outcomes) {
  TALLY_ASSERT(hashes.size() == outcomes.size() && !hashes.empty());
  if (single && !outcomes[0].ok() && outcomes[0].error().code != "duplicate") {
    const Error& error = outcomes[0].error();
    return {http_status_for(error),
            Json{{"error", {{"code", error.code}, {"message", error.message}}}}.dump()};
  }
  size_t accepted = 0;
  std::string results = results_text(hashes, outcomes, accepted);
  if (accepted == 0 && !single) {
    return {
        400,
        R"({"error":{"code":"all_rejected","message":"no transaction was accepted"},"results":)" +
            results + "}"};
  }
  // Keys in sorted order, as the JSON library writes them.
  std::string body = R"({"accepted":)" + std::to_string(accepted) + R"(,"hashes":[)";
  body.reserve(body.size() + hashes.size() * 67 + results.size() + 16);
  for (size_t index = 0; index < hashes.size(); ++index) {
    if (index > 0)
      body += ',';
    append_quoted_hex(body, hashes[index]);
  }
  body += R"(],"results":)";
  body += results;
  body += '}';
  return {202, std::move(body)};
}

}  // namespace tally
