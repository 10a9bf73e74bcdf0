#include "cli/bench_load.h"

#include <unistd.h>

#include <absl/container/flat_hash_map.h>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "cli/bench_answers.h"
#include "cli/local_cluster.h"
#include "core/bytes.h"
#include "ledger/transaction.h"

namespace tally::cli {
namespace {

bool progress_to_stderr = false;

// Transactions per POST; far below the API's limit, small enough to keep the pipeline moving.
constexpr size_t kMaxBatch = 1000;

double milliseconds_between(BenchClock::time_point from, BenchClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

double percentile(std::vector<double>& sorted, double fraction) {
  if (sorted.empty())
    return 0;
  size_t index = static_cast<size_t>(fraction * static_cast<double>(sorted.size()));
  return sorted[std::min(sorted.size() - 1, index)];
}

// Posts batches to one node on its own thread, over one keep-alive connection, and reports the
// hashes the node refused.
class Submitter {
 public:
  explicit Submitter(uint16_t port) : api_(port), thread_([this] { loop(); }) {}
  ~Submitter() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void submit(std::vector<std::pair<Hash256, const std::string*>> batch) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(batch));
    }
    wake_.notify_one();
  }

  // Refused transactions since the last call, with the first reason seen.
  std::vector<Hash256> take_rejected(std::string& first_reason) {
    std::lock_guard lock(mutex_);
    if (first_reason.empty())
      first_reason = first_reason_;
    return std::exchange(rejected_, {});
  }

 private:
  void loop() {
    for (;;) {
      std::vector<std::pair<Hash256, const std::string*>> batch;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty())
          return;
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string body = "{\"txs\":[";
      body.reserve(batch.size() * (batch.front().second->size() + 3) + 16);
      for (size_t index = 0; index < batch.size(); ++index) {
        if (index > 0)
          body += ',';
        body += '"';
        body += *batch[index].second;
        body += '"';
      }
      body += "]}";
      auto [status, text] = api_.post_text("/v1/transactions", body);
      if (status == 202 && accepted_count(text) == batch.size())
        continue;  // the usual answer: nothing refused
      nlohmann::json answer = nlohmann::json::parse(text, nullptr, false);
      std::vector<Hash256> refused;
      std::string reason;
      if ((status == 202 || status == 400) && answer.is_object() && answer.contains("results")) {
        const auto& results = answer["results"];
        for (size_t index = 0; index < results.size() && index < batch.size(); ++index) {
          if (results[index].value("accepted", false))
            continue;
          refused.push_back(batch[index].first);
          if (reason.empty() && results[index].contains("error"))
            reason = results[index]["error"].value("message", "refused");
        }
      } else {
        for (const auto& item : batch)
          refused.push_back(item.first);
        reason = status == 0 ? "node " + std::to_string(api_.port()) + " unreachable"
                             : "HTTP " + std::to_string(status) + ": " + answer.dump();
      }
      if (!refused.empty()) {
        std::lock_guard lock(mutex_);
        rejected_.insert(rejected_.end(), refused.begin(), refused.end());
        if (first_reason_.empty())
          first_reason_ = reason;
      }
    }
  }

  NodeApi api_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::vector<std::pair<Hash256, const std::string*>>> queue_;
  std::vector<Hash256> rejected_;
  std::string first_reason_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything it uses exists
};

}  // namespace

void set_bench_progress_to_stderr(bool to_stderr) {
  progress_to_stderr = to_stderr;
}

LoadGenerator::LoadGenerator(std::vector<BenchAccount*> senders, std::vector<uint16_t> rpc_ports,
                             std::string chain_id)
    : senders_(std::move(senders)),
      rpc_ports_(std::move(rpc_ports)),
      chain_id_(std::move(chain_id)) {}

void LoadGenerator::prepare(size_t count,
                            const std::function<Address(size_t, uint64_t)>& pick_recipient) {
  prepared_.assign(senders_.size(), {});
  size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (size_t worker = 0; worker < threads; ++worker) {
    workers.emplace_back([&, worker] {
      for (size_t sender = worker; sender < senders_.size(); sender += threads) {
        BenchAccount& account = *senders_[sender];
        size_t own = count / senders_.size() + (sender < count % senders_.size() ? 1 : 0);
        std::mt19937_64 random(account.next_nonce * 1'000'003 + sender);
        std::vector<Prepared>& list = prepared_[sender];
        list.reserve(own);
        for (size_t index = 0; index < own; ++index) {
          Transfer transfer;
          transfer.from = account.address;
          transfer.to = pick_recipient(sender, random());
          transfer.amount = Amount{1 + random() % 1000};
          transfer.fee = Amount{1000};
          transfer.nonce = account.next_nonce++;
          Transaction transaction = sign_transfer(transfer, account.key, chain_id_);
          list.push_back({transaction.hash(), to_hex(transaction.encode()), transfer.nonce,
                          transfer.amount.units + transfer.fee.units});
          account.balance_units -= transfer.amount.units + transfer.fee.units;
        }
      }
    });
  }
  for (std::thread& worker : workers)
    worker.join();
}

LoadResult LoadGenerator::run(const LoadSettings& settings,
                              const std::function<void(bool opening)>& at_window_edge) {
  struct Pending {
    uint32_t sender;
    BenchClock::time_point submitted;
    bool in_window;
  };
  LoadResult result;
  std::vector<std::unique_ptr<Submitter>> submitters;
  for (uint16_t port : rpc_ports_)
    submitters.push_back(std::make_unique<Submitter>(port));
  NodeApi observer(rpc_ports_.front());
  uint64_t scanned_height = observer.height();

  std::vector<size_t> cursor(senders_.size(), 0);
  std::vector<size_t> in_flight(senders_.size(), 0);
  absl::flat_hash_map<Hash256, Pending, FixedBytesHasher<32>> pending;
  std::vector<double> latencies_ms;
  std::ostream& progress = progress_to_stderr ? std::cerr : std::cout;
  bool terminal = ::isatty(progress_to_stderr ? STDERR_FILENO : STDOUT_FILENO) != 0;

  BenchClock::time_point started = BenchClock::now();
  BenchClock::time_point window_opens = started + settings.warmup;
  BenchClock::time_point window_closes = window_opens + settings.window;
  BenchClock::time_point last_tick = started;
  BenchClock::time_point last_poll = started;
  BenchClock::time_point last_progress = started;
  uint64_t committed_at_last_progress = 0;
  bool window_open = false;
  bool window_closed = false;
  double budget = 0;
  size_t next_sender = 0;

  auto release = [&](BenchClock::time_point now) {
    double elapsed = std::chrono::duration<double>(now - last_tick).count();
    last_tick = now;
    if (settings.rate > 0)
      budget = std::min(budget + settings.rate * elapsed, std::max(1.0, settings.rate));
    std::vector<std::vector<std::pair<Hash256, const std::string*>>> batches(rpc_ports_.size());
    bool any_left = false;
    bool released = true;
    while (released && (settings.rate <= 0 || budget >= 1)) {
      released = false;
      for (size_t step = 0; step < senders_.size(); ++step) {
        size_t sender = (next_sender + step) % senders_.size();
        if (cursor[sender] >= prepared_[sender].size())
          continue;
        any_left = true;
        if (in_flight[sender] >= settings.in_flight_per_sender)
          continue;
        if (settings.rate > 0 && budget < 1) {
          next_sender = sender;
          break;
        }
        const Prepared& transaction = prepared_[sender][cursor[sender]++];
        in_flight[sender]++;
        budget -= 1;
        released = true;
        pending.emplace(transaction.hash,
                        Pending{static_cast<uint32_t>(sender), now, window_open && !window_closed});
        result.submitted++;
        if (window_open && !window_closed)
          result.submitted_in_window++;
        auto& batch = batches[sender % batches.size()];
        batch.emplace_back(transaction.hash, &transaction.hex);
        if (batch.size() >= kMaxBatch)
          submitters[sender % batches.size()]->submit(std::exchange(batch, {}));
      }
      if (settings.rate <= 0)
        break;  // one pass fills every sender's window
    }
    for (size_t node = 0; node < batches.size(); ++node) {
      if (!batches[node].empty())
        submitters[node]->submit(std::move(batches[node]));
    }
    if (!any_left && !window_closed)
      result.ran_out = true;
  };

  auto collect = [&] {
    for (auto& submitter : submitters) {
      for (const Hash256& hash : submitter->take_rejected(result.first_rejection)) {
        auto found = pending.find(hash);
        if (found == pending.end())
          continue;
        in_flight[found->second.sender]--;
        pending.erase(found);
        result.rejected++;
      }
    }
    // Asks for the next block directly: until it is committed the answer is a short 404, so
    // polling costs node0 one small request every 10 ms, not a status report as well (node0's
    // CPU counts in the figures like every validator's).
    for (uint64_t height = scanned_height + 1;; ++height) {
      std::optional<std::string> text =
          observer.get_text("/v1/blocks/" + std::to_string(height) + "?transactions=hashes");
      std::optional<ObservedBlock> block;
      if (text)
        block = read_observed_block(*text);
      if (!block)
        break;
      BenchClock::time_point seen = BenchClock::now();
      const std::vector<Hash256>& hashes = block->transaction_hashes;
      for (const Hash256& hash : hashes) {
        auto found = pending.find(hash);
        if (found == pending.end())
          continue;
        if (found->second.in_window)
          latencies_ms.push_back(milliseconds_between(found->second.submitted, seen));
        in_flight[found->second.sender]--;
        pending.erase(found);
        result.committed++;
      }
      if (window_open && !window_closed) {
        result.committed_in_window += hashes.size();
        result.blocks_in_window.push_back({height, block->time_ms, hashes.size(), seen});
      }
      scanned_height = height;
    }
  };

  for (;;) {
    BenchClock::time_point now = BenchClock::now();
    if (!window_open && now >= window_opens) {
      window_open = true;
      at_window_edge(true);
    }
    if (window_open && !window_closed && now >= window_closes) {
      window_closed = true;
      at_window_edge(false);
    }
    if (window_closed && (pending.empty() || now > window_closes + settings.drain_timeout)) {
      break;
    }
    if (!window_closed)
      release(now);
    if (now - last_poll >= std::chrono::milliseconds(10)) {
      last_poll = now;
      collect();
    }
    if (now - last_progress >= std::chrono::milliseconds(terminal ? 500 : 5000)) {
      double seconds = std::chrono::duration<double>(now - last_progress).count();
      char line[200];
      std::snprintf(line, sizeof(line),
                    "%s | %s %3.0f s | height %llu | committed %llu | %6.0f tx/s | in flight %zu",
                    settings.label.c_str(),
                    !window_open ? "warm-up" : (window_closed ? "drain  " : "measure"),
                    std::chrono::duration<double>(now - started).count(),
                    static_cast<unsigned long long>(scanned_height),
                    static_cast<unsigned long long>(result.committed),
                    static_cast<double>(result.committed - committed_at_last_progress) / seconds,
                    pending.size());
      progress << (terminal ? "\r" : "") << line << (terminal ? "   " : "\n") << std::flush;
      last_progress = now;
      committed_at_last_progress = result.committed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (terminal)
    progress << "\n";
  submitters.clear();
  result.still_pending = pending.size();
  // What was signed but never offered is given back: the next run continues each sender's
  // nonces from its first unsent transaction.
  for (size_t sender = 0; sender < senders_.size(); ++sender) {
    for (size_t index = cursor[sender]; index < prepared_[sender].size(); ++index) {
      if (index == cursor[sender])
        senders_[sender]->next_nonce = prepared_[sender][index].nonce;
      senders_[sender]->balance_units += prepared_[sender][index].spent_units;
    }
  }
  prepared_.clear();

  result.window_seconds = std::chrono::duration<double>(settings.window).count();
  result.committed_per_second =
      static_cast<double>(result.committed_in_window) / result.window_seconds;
  result.offered_per_second =
      static_cast<double>(result.submitted_in_window) / result.window_seconds;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  result.latency_p50_ms = percentile(latencies_ms, 0.50);
  result.latency_p90_ms = percentile(latencies_ms, 0.90);
  result.latency_p99_ms = percentile(latencies_ms, 0.99);
  return result;
}

}  // namespace tally::cli
