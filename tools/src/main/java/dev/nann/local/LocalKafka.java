package dev.nann.local;

import dev.nann.jobs.KafkaClientProperties;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka broker (KRaft, combined broker and controller) on 127.0.0.1 with an
 * ephemeral port, running in this JVM from Kafka's own jars. Used by {@code ./nann demo} and the
 * integration tests. In-process rather than a child JVM: it starts in about two seconds, cannot
 * outlive the process that owns it, and is still a real broker on a real socket that Kafka's
 * console tools and {@code ./nann request} can talk to.
 *
 * <p>{@link #startSecured} adds a second, SASL_SSL listener (TLS with the caller's key store,
 * SCRAM-SHA-512 logins) beside the PLAINTEXT one, for tests of nann's Kafka security settings.
 */
public final class LocalKafka implements AutoCloseable {
  /** The name of the secured listener of {@link #startSecured}. */
  public static final String SECURED_LISTENER = "SASL_SSL";

  private final KafkaClusterTestKit cluster;
  private final boolean secured;

  private LocalKafka(KafkaClusterTestKit cluster, boolean secured) {
    this.cluster = cluster;
    this.secured = secured;
  }

  /**
   * Formats and starts a broker with its logs under {@code dataDir}; returns once it accepts
   * clients. An explicit directory (rather than the test kit's temporary one) matters on Ctrl-C:
   * the kit deletes its temporary directories from a JVM shutdown hook that would race with the
   * broker's own orderly shutdown.
   */
  public static LocalKafka start(Path dataDir) throws Exception {
    TestKitNodes nodes = nodes(dataDir);
    return startup(builder(nodes), false);
  }

  /**
   * A broker like {@link #start}'s with a second listener, {@value #SECURED_LISTENER}: TLS with the
   * key store given (PKCS12, one key pair whose certificate names localhost), and SASL
   * SCRAM-SHA-512 logins ({@link #createScramUser}). The PLAINTEXT listener stays for set-up
   * ({@link #bootstrapServers}, {@link #adminProperties}); {@link #securedBootstrapServers} is the
   * secured one.
   */
  public static LocalKafka startSecured(Path dataDir, Path keyStore, String keyStorePassword) throws Exception {
    TestKitNodes nodes = nodes(dataDir);
    String plain = nodes.brokerListenerName().value();
    String controller = nodes.controllerListenerName().value();
    String l = "listener.name." + SECURED_LISTENER.toLowerCase(java.util.Locale.ROOT) + ".";
    KafkaClusterTestKit.Builder b = builder(nodes)
        .setConfigProp("listeners", plain + "://localhost:0," + controller + "://localhost:0," + SECURED_LISTENER
            + "://localhost:0")
        .setConfigProp("listener.security.protocol.map", plain + ":PLAINTEXT," + controller + ":PLAINTEXT,"
            + SECURED_LISTENER + ":SASL_SSL")
        .setConfigProp(l + "sasl.enabled.mechanisms", "SCRAM-SHA-512")
        .setConfigProp(l + "scram-sha-512.sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required;")
        .setConfigProp(l + "ssl.keystore.type", "PKCS12")
        .setConfigProp(l + "ssl.keystore.location", keyStore.toAbsolutePath().toString())
        .setConfigProp(l + "ssl.keystore.password", keyStorePassword)
        .setConfigProp(l + "ssl.key.password", keyStorePassword);
    return startup(b, true);
  }

  private static TestKitNodes nodes(Path dataDir) throws java.io.IOException {
    java.nio.file.Files.createDirectories(dataDir);
    return new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1)
        .setBaseDirectory(dataDir).build();
  }

  private static KafkaClusterTestKit.Builder builder(TestKitNodes nodes) {
    return new KafkaClusterTestKit.Builder(nodes)
        .setConfigProp("offsets.topic.replication.factor", "1")
        .setConfigProp("offsets.topic.num.partitions", "4")
        .setConfigProp("transaction.state.log.replication.factor", "1")
        .setConfigProp("transaction.state.log.min.isr", "1")
        .setConfigProp("transaction.state.log.num.partitions", "4")
        .setConfigProp("transaction.max.timeout.ms", "900000")
        .setConfigProp("group.initial.rebalance.delay.ms", "0")
        .setConfigProp("message.max.bytes", "4194304")
        .setConfigProp("auto.create.topics.enable", "false");
  }

  private static LocalKafka startup(KafkaClusterTestKit.Builder builder, boolean secured) throws Exception {
    KafkaClusterTestKit cluster = builder.build();
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
    return new LocalKafka(cluster, secured);
  }

  /** The secured listener's address (localhost:port) of a broker from {@link #startSecured}. */
  public String securedBootstrapServers() {
    if (!secured) {
      throw new IllegalStateException("this broker has no secured listener (LocalKafka.startSecured starts one)");
    }
    int port = cluster.brokers().values().iterator().next().boundPort(ListenerName.normalised(SECURED_LISTENER));
    return "localhost:" + port;
  }

  /**
   * Creates or updates a SCRAM-SHA-512 login (through the PLAINTEXT listener's Admin API, stored in
   * the KRaft metadata) and waits until the broker knows it.
   */
  public void createScramUser(String user, String password) throws Exception {
    try (Admin admin = Admin.create(adminProperties())) {
      admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
          new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password))).all().get();
      long end = System.nanoTime() + 30_000_000_000L;
      while (true) {
        try {
          if (!admin.describeUserScramCredentials(List.of(user)).description(user).get().credentialInfos().isEmpty()) {
            return;
          }
        } catch (ExecutionException notYetVisible) {
          // ResourceNotFoundException until the broker has the credential
        }
        if (System.nanoTime() > end) {
          throw new IllegalStateException("SCRAM user " + user + " not visible after 30 s");
        }
        Thread.sleep(50);
      }
    }
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
    createTopics(bootstrap, Map.of(), topics, partitions, compacted);
  }

  /**
   * Creates topics on any cluster (existing ones are left alone) through an admin client with the
   * given Kafka client properties (security settings: a job's {@code kafka.properties.*}).
   */
  public static void createTopics(String bootstrap, Map<String, String> clientProperties, List<String> topics,
                                  int partitions, Set<String> compacted) throws Exception {
    Properties p = KafkaClientProperties.toProperties(KafkaClientProperties.checked(clientProperties, ""));
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
