// GET /metrics (SPEC 12): the server's figures in the Prometheus text format, built with
// prometheus-cpp's model (MetricFamily, ClientMetric) and written by its TextSerializer. The
// figures are read at scrape time from what the server counts anyway (service::Metrics,
// service::Counters, the data writer's counts and commit histogram, the store, /proc): nothing
// on the data path knows about Prometheus.
//
// Access: with metrics.token set, "Authorization: Bearer TOKEN" (401 without it, 403 with
// another); without it, loopback peers only (403 to others, naming the setting).
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <optional>
#include <tuple>
#include <utility>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "handlers.hpp"
#include "plugmq/os/process_stats.hpp"
#include "plugmq/platform/crypto.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

using Labels = std::vector<ClientMetric::Label>;

MetricFamily& family(std::vector<MetricFamily>& out, std::string name, std::string help,
                     MetricType type) {
  out.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
  return out.back();
}

void add(MetricFamily& f, double value, Labels labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

void counter(std::vector<MetricFamily>& out, std::string name, std::string help, double v) {
  add(family(out, std::move(name), std::move(help), MetricType::Counter), v);
}
void gauge(std::vector<MetricFamily>& out, std::string name, std::string help, double v) {
  add(family(out, std::move(name), std::move(help), MetricType::Gauge), v);
}

void histogram(std::vector<MetricFamily>& out, std::string name, std::string help,
               const base::FixedHistogram& h) {
  const auto snap = h.snapshot();
  ClientMetric m;
  m.histogram.sample_count = snap.count;
  m.histogram.sample_sum = snap.sum;
  for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
    const double bound =
        i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({snap.cumulative[i], bound});
  }
  family(out, std::move(name), std::move(help), MetricType::Histogram).metric.push_back(m);
}

std::uint64_t size_of(const std::filesystem::path& p) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

void connection_figures(std::vector<MetricFamily>& out, service::Context& ctx) {
  auto& open = family(out, "plugmq_connections", "Connections open now, by listener",
                      MetricType::Gauge);
  for (std::size_t i = 0; i < service::kListeners; ++i) {
    const auto l = static_cast<service::Listener>(i);
    add(open, static_cast<double>(ctx.metrics.open(l)), {{"listener", service::listener_name(l)}});
  }
  counter(out, "plugmq_connections_accepted_total", "Connections accepted, every listener",
          static_cast<double>(ctx.counters.accepted.load()));
  counter(out, "plugmq_connections_refused_total",
          "Connections closed at once: limits.max_connections reached",
          static_cast<double>(ctx.counters.refused.load()));
}

void message_figures(std::vector<MetricFamily>& out, service::Context& ctx) {
  using M = service::Metrics;
  const auto& m = ctx.metrics;
  const auto& c = ctx.counters;
  counter(out, "plugmq_messages_received_total", "Data publishes accepted (MQTT and HTTP)",
          static_cast<double>(m.total(M::kReceived)));
  auto& delivered = family(out, "plugmq_messages_delivered_total",
                           "PUBLISH packets written to subscribers, by QoS", MetricType::Counter);
  for (auto [qos, count] : {std::pair{"0", M::kDelivered0}, {"1", M::kDelivered1},
                            {"2", M::kDelivered2}}) {
    add(delivered, static_cast<double>(m.total(count)), {{"qos", qos}});
  }
  auto& dropped = family(out, "plugmq_messages_dropped_total",
                         "Publishes not stored, and deliveries not made, by reason",
                         MetricType::Counter);
  const std::pair<const char*, double> reasons[] = {
      {"denied", static_cast<double>(m.total(M::kDroppedDenied))},
      {"binary", static_cast<double>(m.total(M::kDroppedBinary))},
      {"topic", static_cast<double>(m.total(M::kDroppedTopic))},
      {"unknown_id", static_cast<double>(m.total(M::kDroppedUnknownId))},
      {"queue_full", static_cast<double>(m.total(M::kDroppedQueue))},
      {"replay_limit", static_cast<double>(c.replay_skipped.load())}};
  for (const auto& [reason, v] : reasons) add(dropped, v, {{"reason", reason}});
  counter(out, "plugmq_messages_replayed_total",
          "Stored messages sent to persistent sessions that had missed them",
          static_cast<double>(c.replayed.load()));
  counter(out, "plugmq_mqtt_received_bytes_total", "MQTT bytes read, every listener",
          static_cast<double>(m.total(M::kBytesIn)));
  counter(out, "plugmq_mqtt_sent_bytes_total", "MQTT bytes written, every listener",
          static_cast<double>(m.total(M::kBytesOut)));
  counter(out, "plugmq_property_requests_total", "Property set and get requests over MQTT",
          static_cast<double>(c.prop_requests.load()));
  auto& enroll = family(out, "plugmq_enrollments_total", "Enrollments (MQTT and HTTP), by result",
                        MetricType::Counter);
  add(enroll, static_cast<double>(c.enrolled.load()), {{"result", "ok"}});
  add(enroll, static_cast<double>(c.enroll_failed.load()), {{"result", "failed"}});
  auto& http = family(out, "plugmq_http_requests_total", "HTTP responses, by status code",
                      MetricType::Counter);
  for (std::size_t i = 0; i < M::kHttpCodes.size(); ++i) {
    add(http, static_cast<double>(m.http_responses(i)),
        {{"code", std::to_string(M::kHttpCodes[i])}});
  }
  add(http, static_cast<double>(m.http_other_responses()), {{"code", "other"}});
}

void store_figures(std::vector<MetricFamily>& out, service::Context& ctx) {
  const auto& w = ctx.writer;
  counter(out, "plugmq_records_stored_total", "Records committed to the store",
          static_cast<double>(w.written()));
  counter(out, "plugmq_records_failed_total", "Records whose transaction failed (not acknowledged)",
          static_cast<double>(w.failed()));
  counter(out, "plugmq_records_expired_total", "Records deleted by the retention sweep",
          static_cast<double>(w.swept()));
  gauge(out, "plugmq_store_queue_records", "Records and tasks waiting for the data writer",
        static_cast<double>(w.backlog()));
  histogram(out, "plugmq_store_commit_seconds", "Data writer transactions, from BEGIN to COMMIT",
            w.commit_seconds());
  const auto db = ctx.options.data_dir / "plugmq.db";
  gauge(out, "plugmq_store_database_bytes", "Size of the database file",
        static_cast<double>(size_of(db)));
  gauge(out, "plugmq_store_wal_bytes", "Size of the database's write-ahead log",
        static_cast<double>(size_of(db.string() + "-wal")));
}

void process_figures(std::vector<MetricFamily>& out) {
  auto p = os::process_stats();
  if (!p) return;
  counter(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
          p->cpu_seconds);
  gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes",
        static_cast<double>(p->resident_bytes));
  gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes",
        static_cast<double>(p->virtual_bytes));
  gauge(out, "process_open_fds", "Number of open file descriptors",
        static_cast<double>(p->open_fds));
  gauge(out, "process_max_fds", "Maximum number of open file descriptors",
        static_cast<double>(p->max_fds));
  gauge(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds",
        p->start_time_seconds);
}

bool loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}

// The 401/403 that refuses the scrape; nothing when it may go on.
std::optional<Response> refuse(const Call& call) {
  const auto token = call.ctx.live.metrics_token.get();
  if (token->empty()) {
    if (loopback(call.req.peer_address)) return std::nullopt;
    return error_response(403, "metrics answer loopback addresses only; set metrics.token to "
                               "scrape from elsewhere (Authorization: Bearer TOKEN)");
  }
  const std::string* auth = call.req.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!auth || auth->rfind(kBearer, 0) != 0) {
    Response r = error_response(401, "metrics need Authorization: Bearer TOKEN (metrics.token)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (!platform::constant_time_equal(std::string_view(*auth).substr(kBearer.size()), *token)) {
    return error_response(403, "wrong metrics token");
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<Response> get_metrics(Call& call) {
  if (auto refused = refuse(call)) co_return std::move(*refused);
  service::Context& ctx = call.ctx;
  std::int64_t sessions = 0, retained = 0;
  try {
    auto op = ctx.store.read([](service::StoreExecutor::ReadRepos& r) {
      return std::pair{r.sessions.count(), r.data.retained_count()};
    });
    std::tie(sessions, retained) = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "reading figures");
  }
  std::vector<MetricFamily> out;
  add(family(out, "plugmq_build_info", "plugmq's version", MetricType::Gauge), 1,
      {{"version", PLUGMQ_VERSION}});
  connection_figures(out, ctx);
  message_figures(out, ctx);
  store_figures(out, ctx);
  gauge(out, "plugmq_sessions_persistent", "Persistent sessions stored, online or not",
        static_cast<double>(sessions));
  gauge(out, "plugmq_retained_messages", "Retained messages stored",
        static_cast<double>(retained));
  process_figures(out);
  Response r;
  r.status = 200;
  r.body = prometheus::TextSerializer().Serialize(out);
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.headers.emplace_back("Cache-Control", "no-store");
  co_return r;
}

}  // namespace plugmq::http::detail
