#include "rpc/api_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "rpc/json.h"
#include "rpc/submission.h"

namespace tally {
namespace {

using Json = nlohmann::json;

void send_json_text(httplib::Response& response, int status, std::string body) {
  response.status = status;
  response.set_content(std::move(body), "application/json");
}

void send_json(httplib::Response& response, int status, const Json& body) {
  send_json_text(response, status, body.dump());
}

void send_error(httplib::Response& response, int status, const std::string& code,
                const std::string& message) {
  send_json(response, status, Json{{"error", {{"code", code}, {"message", message}}}});
}

void send_unavailable(httplib::Response& response) {
  send_error(response, 503, "unavailable", "the node is busy or shutting down; retry");
}

}  // namespace

ApiServer::ApiServer(Node& node) : node_(node), server_(std::make_unique<httplib::Server>()) {}

ApiServer::~ApiServer() {
  stop();
}

Status ApiServer::start() {
  const NodeConfig& config = node_.config();
  server_->set_payload_max_length(config.rpc_max_body_bytes);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_keep_alive_max_count(1000);
  server_->set_tcp_nodelay(true);  // answers must not wait for the client's delayed ACK
  size_t threads = std::max<size_t>(1, std::min<size_t>(config.rpc_max_connections, 64));
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  install_routes();
  if (!server_->bind_to_port(config.rpc_listen.host, config.rpc_listen.port)) {
    return make_error("io_error", "cannot listen on " + config.rpc_listen.to_string() +
                                      " (is another node using it?)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("api listening on http://{}", config.rpc_listen.to_string());
  return Status::success();
}

void ApiServer::stop() {
  if (server_)
    server_->stop();
  if (thread_.joinable())
    thread_.join();
}

void ApiServer::install_routes() {
  httplib::Server& server = *server_;
  Node& node = node_;

  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty())
      return;
    if (response.status == 413) {
      send_error(response, 413, "body_too_large", "the request body is too large");
    } else if (response.status == 404) {
      send_error(response, 404, "not_found", "no such endpoint");
    } else if (response.status == 405) {
      send_error(response, 405, "method_not_allowed", "method not allowed on this endpoint");
    } else {
      send_error(response, response.status, "http_error", "request failed");
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        send_error(response, 500, "internal_error", "internal error");
      });

  server.Get("/v1/status", [&node](const httplib::Request&, httplib::Response& response) {
    Json body;
    if (!node.call([&] { body = status_json(node); }))
      return send_unavailable(response);
    send_json(response, 200, body);
  });

  server.Get(R"(/v1/accounts/([^/]+))", [&node](const httplib::Request& request,
                                                httplib::Response& response) {
    Result<Address> address = Address::parse(request.matches[1].str());
    if (!address.ok())
      return send_error(response, 400, address.error().code, address.error().message);
    bool prove = request.get_param_value("prove") == "true";
    std::optional<Json> body;
    bool found = false;
    bool syncing = false;
    if (!node.call([&] {
          syncing = !node.consensus_started();
          if (!syncing)
            body = account_json(node, *address, prove, found);
        }))
      return send_unavailable(response);
    if (syncing)
      return send_error(response, 503, "syncing", "the node is still syncing");
    if (!found) {
      Json error = {
          {"error", {{"code", "not_found"}, {"message", "no account at " + address->to_string()}}}};
      if (body && body->is_object())
        error.update(*body);  // the proof of absence, when asked for
      return send_json(response, 404, error);
    }
    send_json(response, 200, *body);
  });

  server.Post("/v1/transactions", [&node](const httplib::Request& request,
                                          httplib::Response& response) {
    Result<Submission> submission = parse_submission(
        request.body, node.config().rpc_max_batch_transactions, node.genesis().params.max_tx_bytes);
    if (!submission.ok())
      return send_error(response, 400, submission.error().code, submission.error().message);
    const std::vector<Transaction>& transactions = submission->transactions;
    // Signatures are checked here, on the API's own thread, not on the node's event loop; only
    // successes are passed on (a bad one is refused by admission with the usual precedence).
    std::vector<bool> signature_ok = node.verify_signatures(transactions);
    std::vector<Hash256> hashes = transaction_hashes(transactions);
    std::vector<Status> outcomes;
    if (!node.call([&] {
          for (size_t index = 0; index < transactions.size(); ++index) {
            if (signature_ok[index])
              node.note_signature_verified(hashes[index]);
          }
          // One batch: what is admitted is gossiped in one message.
          outcomes = node.submit_batch(transactions, hashes);
        })) {
      return send_unavailable(response);
    }
    HttpAnswer answer = submission_answer(submission->single, hashes, outcomes);
    send_json_text(response, answer.status, std::move(answer.body));
  });

  server.Get(R"(/v1/transactions/([^/]+))", [&node](const httplib::Request& request,
                                                    httplib::Response& response) {
    Result<Hash256> hash = Hash256::from_hex(request.matches[1].str());
    if (!hash.ok())
      return send_error(response, 400, "invalid_hash", "a transaction hash is 64 hex characters");
    TransactionStatus status;
    if (!node.call([&] { status = node.transaction_status(*hash); }))
      return send_unavailable(response);
    if (status.kind == TransactionStatus::Kind::unknown) {
      return send_error(response, 404, "not_found", "this node does not know the transaction");
    }
    send_json(response, 200, transaction_status_json(*hash, status));
  });

  server.Get(
      "/v1/blocks/latest", [&node](const httplib::Request& request, httplib::Response& response) {
        // Only the read happens on the event loop; formatting happens on this thread.
        std::optional<DecidedBlock> decided;
        if (!node.call([&] {
              if (node.consensus_started() && node.engine().height() > 0)
                decided = node.storage().load_decided_block(node.engine().height());
            })) {
          return send_unavailable(response);
        }
        if (!decided)
          return send_error(response, 404, "not_found", "no block has been committed yet");
        send_json_text(response, 200,
                       block_text(*decided, request.get_param_value("transactions") == "hashes"));
      });

  server.Get(R"(/v1/blocks/(\d{1,20}))", [&node](const httplib::Request& request,
                                                 httplib::Response& response) {
    uint64_t height = 0;
    try {
      height = std::stoull(request.matches[1].str());
    } catch (...) {
      return send_error(response, 400, "invalid_height", "height out of range");
    }
    std::optional<DecidedBlock> decided;
    uint64_t latest = 0;
    uint64_t oldest = 0;
    if (!node.call([&] {
          latest = node.consensus_started() ? node.engine().height() : 0;
          oldest = node.storage().oldest_retained_height();
          if (height >= 1 && height <= latest)
            decided = node.storage().load_decided_block(height);
        })) {
      return send_unavailable(response);
    }
    if (height == 0 || height > latest) {
      return send_error(response, 404, "not_found",
                        "height " + std::to_string(height) + " is not committed yet");
    }
    if (!decided) {
      return send_error(response, 410, "discarded",
                        "block " + std::to_string(height) + " was discarded; the oldest kept is " +
                            std::to_string(oldest));
    }
    send_json_text(response, 200,
                   block_text(*decided, request.get_param_value("transactions") == "hashes"));
  });

  server.Get("/v1/validators", [&node](const httplib::Request&, httplib::Response& response) {
    Json body;
    if (!node.call([&] { body = validators_json(node); }))
      return send_unavailable(response);
    send_json(response, 200, body);
  });

  server.Get("/metrics", [&node](const httplib::Request&, httplib::Response& response) {
    std::string text;
    if (!node.call([&] {
          if (node.consensus_started())
            text = metrics_text(node);
        }))
      return send_unavailable(response);
    response.status = 200;
    response.set_content(text, "text/plain; version=0.0.4");
  });
}

}  // namespace tally
