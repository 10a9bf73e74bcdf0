// tally-sim: the deterministic cluster simulator. One seed, one run, bit for bit reproducible.
//
//   tally-sim --seed N [options]            one run with a verbose summary
//   tally-sim --seeds K [--start S] [opts]  a swarm of K seeds from S; one line per failure
//
// Exit status 0 iff no run found a violation.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "sim/simulation.h"

namespace {

using tally::sim::Counters;
using tally::sim::SimulationOptions;
using tally::sim::SimulationReport;

constexpr std::string_view kUsage = R"(usage:
  tally-sim --seed N [options]             one run, verbose summary
  tally-sim --seeds K [--start S] [options] K runs with seeds S, S+1, ... (default S = 1)
options:
  --validators N            force the validator count (default: random 4..10)
  --byzantine-fraction F    force at least this share of the voting power to be Byzantine,
                            e.g. 0.5 (default: random, always below 1/3)
  --seconds T               virtual seconds of the safety phase with faults (default 10)
  --liveness-seconds T      bound on the liveness phase (default 30)
  --liveness-heights K      new heights required in the liveness phase (default 3)
  --transactions N          workload size (default 150)
  --no-network-faults | --no-node-faults | --no-byzantine
  --equal-power             every validator has power 1
  --fork-attack             colluding split-brain attack (needs >= 1/3 Byzantine power)
  --tamper-state-root-at H  test hook: corrupt the state root the checkers see at height H
  --quiet                   only failures and totals
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "tally-sim: " << message << "\n" << kUsage;
  std::exit(2);
}

uint64_t parse_unsigned(std::string_view flag, std::string_view text) {
  if (text.empty() || text.size() > 19)
    usage_error(std::string(flag) + " needs a number");
  uint64_t value = 0;
  for (char digit : text) {
    if (digit < '0' || digit > '9')
      usage_error(std::string(flag) + " needs a number");
    value = value * 10 + uint64_t(digit - '0');
  }
  return value;
}

// A decimal such as "2.5" scaled by 10^decimals, exactly (no floating point).
uint64_t parse_decimal(std::string_view flag, std::string_view text, int decimals) {
  size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string fraction =
      point == std::string_view::npos ? std::string() : std::string(text.substr(point + 1));
  if (int(fraction.size()) > decimals)
    usage_error(std::string(flag) + ": too many decimals");
  fraction.resize(size_t(decimals), '0');
  uint64_t scale = 1;
  for (int index = 0; index < decimals; ++index)
    scale *= 10;
  uint64_t value = parse_unsigned(flag, whole.empty() ? "0" : whole) * scale;
  if (decimals > 0)
    value += parse_unsigned(flag, fraction);
  return value;
}

void print_counters(const Counters& counters, const char* indent) {
  for (const auto& [name, value] : counters.values()) {
    std::printf("%s%-36s %llu\n", indent, name.c_str(), static_cast<unsigned long long>(value));
  }
}

void print_report(const SimulationReport& report) {
  std::printf(
      "seed %llu: %zu validators, total power %llu; Byzantine: %zu with power %llu%s%s\n",
      static_cast<unsigned long long>(report.seed), report.validators,
      static_cast<unsigned long long>(report.total_power), report.byzantine_validators,
      static_cast<unsigned long long>(report.byzantine_power),
      report.byzantine_behaviours.empty() ? "" : " (",
      report.byzantine_behaviours.empty() ? "" : (report.byzantine_behaviours + ")").c_str());
  if (report.violation) {
    std::printf("  VIOLATION [%s] at %llu ms: %s\n", report.violation->checker.c_str(),
                static_cast<unsigned long long>(report.violation->time_ms),
                report.violation->detail.c_str());
  } else {
    std::printf("  result: no violation\n");
  }
  std::printf("  heights committed: %llu, transactions committed: %zu, virtual time: %llu ms\n",
              static_cast<unsigned long long>(report.heights_committed),
              report.transactions_committed, static_cast<unsigned long long>(report.virtual_ms));
  if (report.liveness_ms) {
    std::printf("  liveness: the new heights took %llu ms after the faults stopped\n",
                static_cast<unsigned long long>(*report.liveness_ms));
  }
  const auto& accountability = report.accountability;
  std::printf(
      "  accountability: %zu double votes witnessed, %zu committed as evidence, %zu lost with "
      "crashed witnesses, %zu pending at the end\n",
      accountability.owed, accountability.committed, accountability.lost_in_crash,
      accountability.pending_at_end);
  std::printf("  trace hash: %s\n", report.trace_hash.hex().c_str());
  std::printf("  counters:\n");
  print_counters(report.counters, "    ");
  std::printf("  reproduce: %s\n", report.reproduce_command.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  SimulationOptions options;
  std::optional<uint64_t> seed;
  std::optional<uint64_t> seeds;
  uint64_t start = 1;
  bool quiet = false;
  for (int index = 1; index < argc; ++index) {
    std::string_view flag = argv[index];
    auto value = [&]() -> std::string_view {
      if (index + 1 >= argc)
        usage_error(std::string(flag) + " needs a value");
      return argv[++index];
    };
    if (flag == "--seed") {
      seed = parse_unsigned(flag, value());
    } else if (flag == "--seeds") {
      seeds = parse_unsigned(flag, value());
    } else if (flag == "--start") {
      start = parse_unsigned(flag, value());
    } else if (flag == "--validators") {
      options.validators = size_t(parse_unsigned(flag, value()));
      if (*options.validators < 2 || *options.validators > 100) {
        usage_error("--validators must be in 2..100");
      }
    } else if (flag == "--byzantine-fraction") {
      uint64_t ppm = parse_decimal(flag, value(), 6);
      if (ppm > 1'000'000)
        usage_error("--byzantine-fraction must be at most 1");
      options.byzantine_power_ppm = uint32_t(ppm);
    } else if (flag == "--seconds") {
      options.safety_ms = parse_decimal(flag, value(), 3);
    } else if (flag == "--liveness-seconds") {
      options.liveness_ms_max = parse_decimal(flag, value(), 3);
    } else if (flag == "--liveness-heights") {
      options.liveness_heights = parse_unsigned(flag, value());
    } else if (flag == "--transactions") {
      options.max_transactions = size_t(parse_unsigned(flag, value()));
    } else if (flag == "--no-network-faults") {
      options.network_faults = false;
    } else if (flag == "--no-node-faults") {
      options.node_faults = false;
    } else if (flag == "--no-byzantine") {
      options.byzantine = false;
    } else if (flag == "--equal-power") {
      options.equal_power = true;
    } else if (flag == "--fork-attack") {
      options.fork_attack = true;
    } else if (flag == "--tamper-state-root-at") {
      options.tamper_state_root_at_height = parse_unsigned(flag, value());
    } else if (flag == "--quiet") {
      quiet = true;
    } else if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      usage_error("unknown option " + std::string(flag));
    }
  }
  if (seed.has_value() == seeds.has_value())
    usage_error("give exactly one of --seed or --seeds");

  tally::sim::install_abort_reporter();
  if (seed) {
    options.seed = *seed;
    SimulationReport report = tally::sim::run_simulation(options);
    if (quiet) {
      if (report.violation) {
        std::printf("FAIL seed %llu [%s] %s\n  reproduce: %s\n",
                    static_cast<unsigned long long>(report.seed), report.violation->checker.c_str(),
                    report.violation->detail.c_str(), report.reproduce_command.c_str());
      }
    } else {
      print_report(report);
    }
    return report.ok() ? 0 : 1;
  }

  Counters totals;
  uint64_t failures = 0;
  uint64_t heights = 0;
  uint64_t transactions = 0;
  uint64_t virtual_ms = 0;
  uint64_t liveness_ms_max = 0;
  for (uint64_t offset = 0; offset < *seeds; ++offset) {
    options.seed = start + offset;
    SimulationReport report = tally::sim::run_simulation(options);
    totals.merge(report.counters);
    heights += report.heights_committed;
    transactions += report.transactions_committed;
    virtual_ms += report.virtual_ms;
    if (report.liveness_ms)
      liveness_ms_max = std::max(liveness_ms_max, *report.liveness_ms);
    if (report.violation) {
      ++failures;
      std::printf("FAIL seed %llu [%s] %s\n  reproduce: %s\n",
                  static_cast<unsigned long long>(report.seed), report.violation->checker.c_str(),
                  report.violation->detail.c_str(), report.reproduce_command.c_str());
    } else if (!quiet) {
      std::printf("ok   seed %llu: %zu validators, %zu Byzantine, %llu heights, trace %s\n",
                  static_cast<unsigned long long>(report.seed), report.validators,
                  report.byzantine_validators,
                  static_cast<unsigned long long>(report.heights_committed),
                  report.trace_hash.hex().substr(0, 16).c_str());
    }
    std::fflush(stdout);
  }
  std::printf(
      "seeds run: %llu, failures: %llu, heights committed: %llu, transactions committed: "
      "%llu, virtual time: %llu s, slowest liveness recovery: %llu ms\n",
      static_cast<unsigned long long>(*seeds), static_cast<unsigned long long>(failures),
      static_cast<unsigned long long>(heights), static_cast<unsigned long long>(transactions),
      static_cast<unsigned long long>(virtual_ms / 1000),
      static_cast<unsigned long long>(liveness_ms_max));
  std::printf("faults and events by kind:\n");
  print_counters(totals, "  ");
  return failures == 0 ? 0 : 1;
}
