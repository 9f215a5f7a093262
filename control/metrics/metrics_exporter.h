#pragma once
// Prometheus endpoint of isthmusd. Metrics are not kept in a registry that
// the data plane would have to update: at each scrape, the collector asks the
// daemon for a DataplaneSnapshot and turns it into metric families. Names
// follow https://prometheus.io/docs/practices/naming/ (isthmus_<area>_<what>,
// base units, counters end in _total).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "control/metrics/dataplane_snapshot.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace isthmus {

// Pure: the metric families for one snapshot. `version` feeds
// isthmus_build_info.
std::vector<prometheus::MetricFamily> BuildMetricFamilies(const DataplaneSnapshot& snapshot,
                                                          absl::string_view version);

// Text exposition format (version 0.0.4) of BuildMetricFamilies.
std::string RenderMetricsText(const DataplaneSnapshot& snapshot, absl::string_view version);

class SnapshotCollector;

class MetricsExporter {
 public:
  // Serves GET /metrics on `listen` ("IPV4:PORT" or "[IPV6]:PORT"; port 0
  // picks a free port, see port()).
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(const std::string& listen,
                                                               SnapshotFn fn);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // One collection in the text format, exactly what a scrape would return.
  std::string Render() const;
  // The port actually bound.
  uint16_t port() const { return port_; }

 private:
  MetricsExporter() = default;

  // Declared before the exposer so the HTTP server stops before the
  // collector it calls into is destroyed.
  std::shared_ptr<SnapshotCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
};

// Checks a listen address and returns it in the form the HTTP server
// expects; the error names the value and the accepted forms.
absl::StatusOr<std::string> ValidateMetricsListen(const std::string& listen);

}  // namespace isthmus
