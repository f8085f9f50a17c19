package dev.nann.local;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka broker (KRaft, combined broker and controller) on 127.0.0.1 with an
 * ephemeral port, running in this JVM from Kafka's own jars. Used by {@code ./nann demo} and the
 * integration tests. In-process rather than a child JVM: it starts in about two seconds, cannot
 * outlive the process that owns it, and is still a real broker on a real socket that Kafka's
 * console tools and {@code ./nann request} can talk to.
 */
public final class LocalKafka implements AutoCloseable {
  private final KafkaClusterTestKit cluster;

  private LocalKafka(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
  }

  /**
   * Formats and starts a broker with its logs under {@code dataDir}; returns once it accepts
   * clients. An explicit directory (rather than the test kit's temporary one) matters on Ctrl-C:
   * the kit deletes its temporary directories from a JVM shutdown hook that would race with the
   * broker's own orderly shutdown.
   */
  public static LocalKafka start(java.nio.file.Path dataDir) throws Exception {
    java.nio.file.Files.createDirectories(dataDir);
    KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(
        new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1)
            .setBaseDirectory(dataDir).build())
        .setConfigProp("offsets.topic.replication.factor", "1")
        .setConfigProp("offsets.topic.num.partitions", "4")
        .setConfigProp("transaction.state.log.replication.factor", "1")
        .setConfigProp("transaction.state.log.min.isr", "1")
        .setConfigProp("transaction.state.log.num.partitions", "4")
        .setConfigProp("transaction.max.timeout.ms", "900000")
        .setConfigProp("group.initial.rebalance.delay.ms", "0")
        .setConfigProp("message.max.bytes", "4194304")
        .setConfigProp("auto.create.topics.enable", "false")
        .build();
    java.io.PrintStream out = System.out;
    try {
      // the test kit prints its formatting steps to stdout; keep stdout for answers
      System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
      cluster.format();
    } finally {
      System.setOut(out);
    }
    cluster.startup();
    cluster.waitForReadyBrokers();
    return new LocalKafka(cluster);
  }

  public String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  /** Admin client properties for this broker. */
  public Properties adminProperties() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    return p;
  }

  /**
   * Creates topics (existing ones are left alone).
   *
   * @param compacted topics that get {@code cleanup.policy=compact}
   */
  public void createTopics(List<String> topics, int partitions, Set<String> compacted) throws Exception {
    createTopics(bootstrapServers(), topics, partitions, compacted);
  }

  /** Creates topics on any cluster (existing ones are left alone). */
  public static void createTopics(String bootstrap, List<String> topics, int partitions, Set<String> compacted)
      throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(p)) {
      List<NewTopic> create = new ArrayList<>();
      for (String t : topics) {
        NewTopic nt = new NewTopic(t, compacted.contains(t) ? 1 : partitions, (short) 1);
        if (compacted.contains(t)) {
          nt.configs(Map.of("cleanup.policy", "compact"));
        }
        create.add(nt);
      }
      for (var e : admin.createTopics(create).values().entrySet()) {
        try {
          e.getValue().get();
        } catch (ExecutionException ex) {
          if (!(ex.getCause() instanceof TopicExistsException)) {
            throw ex;
          }
        }
      }
      awaitLeaders(admin, topics);
    }
  }

  /**
   * Waits until every partition of {@code topics} has a leader. Producing to a partition the
   * broker has not opened yet can reorder an idempotent producer's first batches and lose them
   * (KAFKA-15591, fixed after the 4.2 line this project is pinned to), so local runs create
   * topics and wait here before anything is sent.
   */
  private static void awaitLeaders(Admin admin, List<String> topics) throws Exception {
    long end = System.nanoTime() + 30_000_000_000L;
    while (true) {
      boolean ready = true;
      try {
        for (var d : admin.describeTopics(topics).allTopicNames().get().values()) {
          ready &= d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty());
        }
      } catch (ExecutionException notYetVisible) {
        ready = false;
      }
      if (ready) {
        return;
      }
      if (System.nanoTime() > end) {
        throw new IllegalStateException("topics " + topics + " have no leader after 30 s");
      }
      Thread.sleep(100);
    }
  }

  @Override
  public void close() throws Exception {
    cluster.close();
  }
}
