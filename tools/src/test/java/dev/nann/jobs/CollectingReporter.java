package dev.nann.jobs;

import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A real Flink metric reporter (loaded by the MiniCluster through its factory) that keeps every
 * registered metric by its full identifier, so tests can read the job's metrics.
 */
public final class CollectingReporter implements MetricReporter {
  static final Map<String, Metric> METRICS = new ConcurrentHashMap<>();

  @Override
  public void open(MetricConfig config) {
  }

  @Override
  public void close() {
  }

  @Override
  public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
    METRICS.put(group.getMetricIdentifier(name), metric);
  }

  @Override
  public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
    METRICS.remove(group.getMetricIdentifier(name), metric);
  }

  /** The newest-registered metric whose identifier ends with {@code suffix}. */
  static Optional<Metric> find(String suffix) {
    return METRICS.entrySet().stream().filter(e -> e.getKey().endsWith(suffix)).map(Map.Entry::getValue).findFirst();
  }

  /** Factory named in {@code metrics.reporter.<name>.factory.class}. */
  public static final class Factory implements MetricReporterFactory {
    @Override
    public MetricReporter createMetricReporter(Properties properties) {
      return new CollectingReporter();
    }
  }
}
