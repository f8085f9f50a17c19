package dev.nann.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Before a job is submitted: can its Kafka clients reach the cluster and log in with its settings,
 * and does the cluster hold what the job needs? A wrong password or certificate, a missing topic, a
 * descriptor topic that retention would empty, or a transaction timeout the brokers refuse then
 * fails at start with one message saying what to change, instead of failing the running job over
 * and over (a missing topic: the sources cannot list it and the sinks wait a minute on each record;
 * a refused timeout: every exactly-once sink fails when it starts).
 */
public final class KafkaPreflight {
  private static final Logger LOG = LoggerFactory.getLogger(KafkaPreflight.class);

  private KafkaPreflight() {}

  /**
   * What a job needs of the cluster.
   *
   * @param topics every topic the job reads or writes
   * @param compacted those that hold state as their newest record per key (descriptors, the catalogue)
   * @param outputs those the job only writes (a cluster that creates topics on first use may lack them)
   * @param transactionTimeoutMs the exactly-once sinks' transaction timeout; 0 without such sinks
   */
  public record Needs(Collection<String> topics, Set<String> compacted, Set<String> outputs, long transactionTimeoutMs) {
  }

  /**
   * @param clientProperties the job's {@code kafka.properties.*} (prefix removed)
   * @throws IllegalStateException naming the listener, protocol and mechanism, with Kafka's reason,
   *     or every topic and broker setting that does not fit the job
   */
  public static void check(String bootstrap, Map<String, String> clientProperties, Duration timeout, Needs needs) {
    Properties p = KafkaClientProperties.toProperties(clientProperties);
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", Long.toString(timeout.toMillis()));
    p.put("default.api.timeout.ms", Long.toString(timeout.toMillis()));
    try (Admin admin = Admin.create(p)) {
      DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()));
      try {
        cluster.clusterId().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        throw new IllegalStateException("cannot use the Kafka listener at " + bootstrap + " (security.protocol "
            + clientProperties.getOrDefault("security.protocol", "PLAINTEXT")
            + (clientProperties.containsKey("sasl.mechanism") ? ", sasl.mechanism " + clientProperties.get("sasl.mechanism") : "")
            + "): " + cause.getClass().getSimpleName() + ": " + cause.getMessage()
            + " - check kafka.bootstrap-servers and kafka.properties.*", cause);
      }
      Config broker = brokerConfig(admin, cluster, timeout);
      List<String> problems = new ArrayList<>();
      boolean clientsMayCreate = !"false".equals(clientProperties.get("allow.auto.create.topics"));
      checkTopics(admin, needs, clientsMayCreate ? broker : null, timeout, problems);
      if (needs.transactionTimeoutMs() > 0) {
        checkTransactionTimeout(broker, needs.transactionTimeoutMs(), problems);
      }
      if (!problems.isEmpty()) {
        throw new IllegalStateException("the Kafka cluster at " + bootstrap + " does not fit the job: "
            + String.join("; ", problems));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while checking the Kafka cluster at " + bootstrap, e);
    }
  }

  /** One broker's settings, or null when they cannot be read (reading them needs DescribeConfigs on the cluster). */
  private static Config brokerConfig(Admin admin, DescribeClusterResult cluster, Duration timeout)
      throws InterruptedException {
    try {
      Collection<Node> nodes = cluster.nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (nodes.isEmpty()) {
        return null;
      }
      ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(nodes.iterator().next().id()));
      return admin.describeConfigs(List.of(broker)).values().get(broker).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("could not read the brokers' settings ({}): transaction.max.timeout.ms and auto.create.topics.enable "
          + "not checked", reason(e));
      return null;
    }
  }

  /** @param broker a broker's settings, to see whether it creates topics on use; null: it does not (or unknown) */
  private static void checkTopics(Admin admin, Needs needs, Config broker, Duration timeout, List<String> problems)
      throws InterruptedException {
    if (needs.topics().isEmpty()) {
      return;
    }
    List<String> missing = new ArrayList<>();
    List<String> present = new ArrayList<>();
    Map<String, KafkaFuture<TopicDescription>> described = admin.describeTopics(Set.copyOf(needs.topics())).topicNameValues();
    for (String topic : needs.topics().stream().distinct().toList()) {
      try {
        described.get(topic).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        present.add(topic);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof UnknownTopicOrPartitionException) {
          missing.add(topic);
        } else if (e.getCause() instanceof AuthorizationException) {
          problems.add("these credentials may not describe topic " + topic + " (the job needs to read or write it)");
        } else {
          problems.add("cannot describe topic " + topic + ": " + e.getCause());
        }
      } catch (TimeoutException e) {
        problems.add("no answer describing topic " + topic + " within " + timeout.toSeconds() + " s");
      }
    }
    // topics the job only writes appear with their first record on a cluster that creates topics on use
    ConfigEntry autoCreate = broker == null ? null : broker.get("auto.create.topics.enable");
    if (autoCreate != null && "true".equals(autoCreate.value())) {
      List<String> created = missing.stream().filter(needs.outputs()::contains).toList();
      if (!created.isEmpty()) {
        LOG.warn("topic(s) {} do not exist yet; the brokers create them with their defaults when the job's producers "
            + "first ask for them (its credentials need the Create permission)", created);
        missing.removeAll(created);
      }
    }
    if (!missing.isEmpty()) {
      problems.add("missing topic(s) " + String.join(", ", missing) + " - create them first ("
          + (needs.compacted().stream().anyMatch(missing::contains)
              ? "with cleanup.policy=compact for " + String.join(", ", needs.compacted().stream()
                  .filter(missing::contains).sorted().toList()) + "; "
              : "")
          + "`--create-topics` does it for a test cluster; docs/operations.md, Flink cluster)");
    }
    for (String topic : present.stream().filter(needs.compacted()::contains).toList()) {
      checkCompacted(admin, topic, timeout, problems);
    }
  }

  /** A state topic keeps its newest record per key for ever: compacted, and not also deleted by retention. */
  private static void checkCompacted(Admin admin, String topic, Duration timeout, List<String> problems)
      throws InterruptedException {
    ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    Config config;
    try {
      config = admin.describeConfigs(List.of(resource)).values().get(resource).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // reading topic configs needs DescribeConfigs, which a job's credentials may lack: not checked then
      LOG.warn("could not read the cleanup policy of topic {} ({}); it must be compacted", topic, reason(e));
      return;
    }
    ConfigEntry policy = config.get("cleanup.policy");
    if (policy == null || policy.value() == null) {
      LOG.warn("the settings of topic {} name no cleanup policy; it must be compacted", topic);
      return;
    }
    String value = policy.value().replace(" ", "");
    boolean compact = List.of(value.split(",")).contains("compact");
    boolean delete = List.of(value.split(",")).contains("delete");
    String retentionMs = valueOf(config, "retention.ms");
    String retentionBytes = valueOf(config, "retention.bytes");
    boolean keptForEver = "-1".equals(retentionMs) && "-1".equals(retentionBytes);
    if (!compact || delete && !keptForEver) {
      problems.add("topic " + topic + " has cleanup.policy=" + value + (delete && compact ? " with retention.ms="
          + retentionMs + " and retention.bytes=" + retentionBytes : "") + " but must be compacted only (its newest "
          + "record per key is the current state, which retention would delete): kafka-configs --alter --entity-type "
          + "topics --entity-name " + topic + " --add-config cleanup.policy=compact");
    }
  }

  private static void checkTransactionTimeout(Config broker, long wantedMs, List<String> problems) {
    ConfigEntry max = broker == null ? null : broker.get("transaction.max.timeout.ms");
    if (max == null || max.value() == null) {
      return;
    }
    long brokerMax;
    try {
      brokerMax = Long.parseLong(max.value());
    } catch (NumberFormatException e) {
      return;
    }
    if (wantedMs > brokerMax) {
      problems.add("kafka.transaction-timeout-ms is " + wantedMs + " but the brokers allow at most " + brokerMax
          + " (transaction.max.timeout.ms): every exactly-once sink would fail as it starts - lower it");
    }
  }

  private static String valueOf(Config config, String name) {
    ConfigEntry e = config.get(name);
    return e == null || e.value() == null ? "?" : e.value();
  }

  private static String reason(Exception e) {
    return String.valueOf(e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e);
  }
}
