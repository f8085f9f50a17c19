package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.local.LocalKafka;
import dev.nann.local.ServingClient;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.config.provider.DirectoryConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka security end to end: a real in-process broker with a SASL_SSL listener (TLS from a key
 * pair made here with keytool, SCRAM-SHA-512 logins), index-sync and serving on one MiniCluster
 * with every Kafka client configured through {@code kafka.properties.*} (as on Kubernetes: the
 * JAAS line read from a mounted secret directory through Kafka's DirectoryConfigProvider, the CA as
 * a PEM trust store), the tools' client and admin through the same properties, and clear
 * authentication errors for a wrong password and for an untrusted certificate.
 */
class KafkaSecurityTest {
  private static final int ITEMS = 2000;
  private static final int DIM = 16;
  private static final int USERS = 40;
  private static final Path MODEL = Path.of(System.getProperty("nann.repo", ".")).resolve("models/fixtures/attention-d16");
  private static final String USER = "nann-serving";
  private static final String PASSWORD = "scram-pw-7f3a";
  static final String BAD_LOGIN = "Authentication failed during authentication due to invalid credentials with SASL "
      + "mechanism SCRAM-SHA-512";

  @TempDir
  static Path dir;
  static TestTls tls;
  static LocalKafka kafka;
  static Path userSecret;

  @BeforeAll
  static void start() throws Exception {
    tls = TestTls.create(dir.resolve("tls"));
    kafka = LocalKafka.startSecured(dir.resolve("kafka"), tls.keyStore(), tls.keyStorePassword());
    kafka.createScramUser(USER, PASSWORD);
    Files.createDirectories(dir.resolve("snapshots"));
    // what Strimzi's KafkaUser secret holds, mounted as files (k8s/15-kafka-secure.yaml)
    userSecret = Files.createDirectories(dir.resolve("kafka-user"));
    Files.writeString(userSecret.resolve("password"), PASSWORD);
    Files.writeString(userSecret.resolve("sasl.jaas.config"), jaas(USER, PASSWORD));
  }

  @AfterAll
  static void stop() throws Exception {
    if (kafka != null) {
      kafka.close();
    }
  }

  static String jaas(String user, String password) {
    return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\""
        + password + "\";";
  }

  /** A tools client's properties (what --kafka-config would hold): PKCS12 trust store, the JAAS line inline. */
  static Map<String, String> clientProperties(String password) {
    Map<String, String> m = new TreeMap<>();
    m.put("security.protocol", "SASL_SSL");
    m.put("sasl.mechanism", "SCRAM-SHA-512");
    m.put("sasl.jaas.config", jaas(USER, password));
    m.put("ssl.truststore.type", "PKCS12");
    m.put("ssl.truststore.location", tls.trustStore().toString());
    m.put("ssl.truststore.password", tls.trustStorePassword());
    return m;
  }

  /** The jobs' kafka.properties.*, as the k8s ConfigMap has them: secrets from mounted files, a PEM CA. */
  static Map<String, String> jobKafkaProperties() {
    Map<String, String> m = new TreeMap<>();
    m.put("kafka.properties.security.protocol", "SASL_SSL");
    m.put("kafka.properties.sasl.mechanism", "SCRAM-SHA-512");
    m.put("kafka.properties.config.providers", "dir");
    m.put("kafka.properties.config.providers.dir.class", DirectoryConfigProvider.class.getName());
    m.put("kafka.properties.config.providers.dir.param.allowed.paths", userSecret.toString());
    m.put("kafka.properties.sasl.jaas.config", "${dir:" + userSecret + ":sasl.jaas.config}");
    m.put("kafka.properties.ssl.truststore.type", "PEM");
    m.put("kafka.properties.ssl.truststore.location", tls.caPem().toString());
    return m;
  }

  static ServingConfig servingConfig(String prefix, Map<String, String> kafkaProperties) {
    Map<String, String> m = new TreeMap<>(kafkaProperties);
    m.put("kafka.bootstrap-servers", kafka.securedBootstrapServers());
    m.put("kafka.group-id", prefix + "-serving");
    m.put("kafka.starting-offsets", "earliest");
    m.put("kafka.transactional-id-prefix", prefix);
    for (String t : List.of("requests", "responses", "user-events", "candidates", "index-updates", "model-updates",
        "dead-letter", "item-embeddings")) {
      m.put("topics." + t, prefix + "-" + t);
    }
    m.put("model.dir", MODEL.toString());
    m.put("snapshot.dir", dir.resolve("snapshots").toString());   // where index-sync writes them
    m.put("checkpoint.interval-ms", "1000");
    m.put("checkpoint.dir", dir.resolve("chk-" + prefix).toUri().toString());
    m.put("async.timeout-ms", "20000");
    return ServingConfig.of(m);
  }

  private static Throwable find(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return c;
      }
    }
    return null;
  }

  private static String chain(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      b.append("\n  ").append(c.getClass().getName()).append(": ").append(c.getMessage());
    }
    return b.toString();
  }

  @Test
  void bothJobsAndTheToolsWorkThroughTheSaslSslListener() throws Exception {
    long t0 = System.nanoTime();
    ServingConfig cfg = servingConfig("sec", jobKafkaProperties());
    Map<String, String> sm = new TreeMap<>(jobKafkaProperties());
    sm.put("kafka.bootstrap-servers", kafka.securedBootstrapServers());
    sm.put("kafka.group-id", "sec-index-sync");
    sm.put("kafka.transactional-id-prefix", "sec-index-sync");
    sm.put("topics.item-embeddings", cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS));
    sm.put("topics.index-updates", cfg.get(ServingOptions.TOPIC_INDEX_UPDATES));
    sm.put("topics.dead-letter", cfg.get(ServingOptions.TOPIC_DEAD_LETTER));
    sm.put("snapshot.dir", dir.resolve("snapshots").toString());
    sm.put("index.dim", Integer.toString(DIM));
    sm.put("index.m", "16");
    sm.put("rebuild.min-changes", Integer.toString(ITEMS));
    sm.put("rebuild.max-interval-ms", "3000");
    sm.put("checkpoint.interval-ms", "1000");
    sm.put("checkpoint.dir", dir.resolve("chk-sec-sync").toUri().toString());
    IndexSyncConfig sync = IndexSyncConfig.of(sm);
    assertEquals("SASL_SSL", cfg.kafkaProperties().get("security.protocol"));
    assertTrue(cfg.toString().contains("kafka.properties.sasl.jaas.config=****"), cfg.toString());

    // the tools' admin client and serving client, authenticated with the same kind of properties
    String secured = kafka.securedBootstrapServers();
    LocalKafka.createTopics(secured, clientProperties(PASSWORD), cfg.topics(), 2, cfg.compactedTopics());
    Corpus corpus = SyntheticCorpus.generate(ITEMS, DIM, 300, 11);
    try (ServingClient client = new ServingClient(secured, clientProperties(PASSWORD), cfg.get(ServingOptions.TOPIC_REQUESTS),
        cfg.get(ServingOptions.TOPIC_RESPONSES), cfg.get(ServingOptions.TOPIC_USER_EVENTS))) {
      float[] e = corpus.embeddings();
      for (int i = 0; i < ITEMS; i++) {
        List<Float> v = new ArrayList<>(DIM);
        for (int j = 0; j < DIM; j++) {
          v.add(e[i * DIM + j]);
        }
        client.send(cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS),
            ItemEmbedding.newBuilder().setItemId(corpus.itemIds()[i]).setEmbedding(v).build());
      }
      long t = 1;
      for (int u = 0; u < USERS; u++) {
        for (int row : corpus.users().get(u).behavior()) {
          client.send(UserEvent.newBuilder().setUserId(u).setItemId(corpus.itemIds()[row]).setTimestampMillis(t++).build());
        }
      }
      client.flush();

      // index-sync (catalog -> snapshot -> descriptor) and serving on one MiniCluster, every client on SASL_SSL
      Configuration conf = ServingJob.flinkConfiguration(cfg);
      conf.setString("restart-strategy.type", "none");
      StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
      IndexSyncJob.build(env, sync);
      ServingJob.build(env, cfg);
      JobClient job = env.executeAsync("nann-secured-test");
      try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
        IndexDescriptor index = client.awaitIndex(cfg.get(ServingOptions.TOPIC_INDEX_UPDATES), ITEMS, Duration.ofSeconds(90));
        awaitServing(client, responses, job);
        Map<String, RetrievalRequest> sent = new HashMap<>();
        for (int i = 0; i < 100; i++) {
          RetrievalRequest r = ServingClient.request(i % USERS, 20, "nann");
          sent.put(r.getRequestId(), r);
          client.send(r);
        }
        client.flush();
        Map<String, RetrievalResponse> got = new HashMap<>();
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (got.size() < sent.size() && System.nanoTime() < end) {
          for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(200))) {
            RetrievalResponse resp = client.decode(rec);
            if (sent.containsKey(resp.getRequestId())) {
              got.put(resp.getRequestId(), resp);
            }
          }
        }
        assertEquals(sent.size(), got.size(), "every request answered over SASL_SSL");
        for (RetrievalResponse resp : got.values()) {
          assertEquals(ResponseStatus.OK, resp.getStatus(), resp.toString());
          assertEquals(index.getVersion(), resp.getIndexVersion());
          assertEquals(20, resp.getItems().size());
        }

        // ./nann request with a Kafka client properties file (what the console tools take as --command-config)
        Path clientFile = dir.resolve("client.properties");
        java.util.Properties p = new java.util.Properties();
        p.putAll(clientProperties(PASSWORD));
        try (java.io.Writer w = Files.newBufferedWriter(clientFile)) {
          p.store(w, null);
        }
        int exit = new picocli.CommandLine(new dev.nann.cli.RequestCommand()).execute("--user", "3", "--k", "5",
            "--bootstrap", secured, "--topic-prefix", "sec-", "--kafka-config", clientFile.toString(), "--json");
        assertEquals(0, exit, "./nann request answered over SASL_SSL");
      } finally {
        job.cancel().get(30, TimeUnit.SECONDS);
      }
    }
    System.out.printf("[KafkaSecurityTest] secured serving + index-sync: %.1f s%n", (System.nanoTime() - t0) / 1e9);
  }

  /** Sends probes until one is answered from the index; fails at once if the job ends. */
  private static void awaitServing(ServingClient client, KafkaConsumer<byte[], byte[]> responses, JobClient job)
      throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (System.nanoTime() < end) {
      if (job.getJobStatus().get().isGloballyTerminalState()) {
        job.getJobExecutionResult().get();
        throw new AssertionError("the job ended before serving");
      }
      client.send(ServingClient.request(0, 10, "nann"));
      client.flush();
      for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(1000))) {
        ResponseStatus s = client.decode(r).getStatus();
        if (s == ResponseStatus.OK || s == ResponseStatus.COLD_START) {
          return;
        }
      }
    }
    throw new AssertionError("the secured job never answered a probe from the index");
  }

  @Test
  void aWrongPasswordOrAnUntrustedCertificateFailsWithAClearError() throws Exception {
    long t0 = System.nanoTime();
    String secured = kafka.securedBootstrapServers();
    // the tools: topic creation (admin) and the serving client
    ExecutionException admin = assertThrows(ExecutionException.class, () -> LocalKafka.createTopics(secured,
        clientProperties("wrong-pw"), List.of("never"), 1, Set.of()));
    Throwable sasl = find(admin, SaslAuthenticationException.class);
    assertNotNull(sasl, chain(admin));
    assertTrue(sasl.getMessage().startsWith(BAD_LOGIN), chain(admin));
    try (ServingClient client = new ServingClient(secured, clientProperties("wrong-pw"), "sec-requests", "sec-responses",
        "sec-user-events")) {
      SaslAuthenticationException c = assertThrows(SaslAuthenticationException.class, client::responsesFromNow);
      assertTrue(c.getMessage().startsWith(BAD_LOGIN), c.getMessage());
    }
    // TLS: a client that does not trust the broker's certificate
    Map<String, String> untrusting = clientProperties(PASSWORD);
    untrusting.remove("ssl.truststore.location");
    untrusting.remove("ssl.truststore.password");
    untrusting.remove("ssl.truststore.type");
    ExecutionException tlsFailure = assertThrows(ExecutionException.class, () -> LocalKafka.createTopics(secured,
        untrusting, List.of("never"), 1, Set.of()));
    Throwable ssl = find(tlsFailure, SslAuthenticationException.class);
    assertNotNull(ssl, chain(tlsFailure));
    assertTrue(ssl.getMessage().contains("SSL handshake failed"), chain(tlsFailure));
    System.out.printf("[KafkaSecurityTest] untrusted certificate, admin client:%s%n", chain(tlsFailure));

    // what ServingJob.run / IndexSyncJob.run check before submitting: one message naming the listener
    Map<String, String> wrongProps = new TreeMap<>();
    jobKafkaProperties().forEach((k, v) -> wrongProps.put(k.substring("kafka.properties.".length()), v));
    wrongProps.put("sasl.jaas.config", jaas(USER, "wrong-pw"));
    IllegalStateException preflight = assertThrows(IllegalStateException.class,
        () -> KafkaPreflight.check(secured, wrongProps, java.time.Duration.ofSeconds(20),
            new KafkaPreflight.Needs(List.of(), Set.of(), Set.of(), 0)));
    assertTrue(preflight.getMessage().startsWith("cannot use the Kafka listener at " + secured
        + " (security.protocol SASL_SSL, sasl.mechanism SCRAM-SHA-512): SaslAuthenticationException"), preflight.getMessage());
    assertFalse(preflight.getMessage().contains("wrong-pw"), "no secret in the message");

    // the serving job with a wrong password: it fails, and the cause says the login was refused
    Map<String, String> wrong = new TreeMap<>(jobKafkaProperties());
    wrong.put("kafka.properties.sasl.jaas.config", jaas(USER, "wrong-pw"));
    ServingConfig cfg = servingConfig("bad", wrong);
    assertFalse(cfg.toString().contains("wrong-pw"), "the password is masked: " + cfg);
    kafka.createTopics(cfg.topics(), 1, cfg.compactedTopics());   // set-up over the PLAINTEXT listener
    Configuration conf = ServingJob.flinkConfiguration(cfg);
    conf.setString("restart-strategy.type", "none");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
    ServingJob.build(env, cfg);
    JobClient job = env.executeAsync("nann-wrong-password-test");
    ExecutionException failed = assertThrows(ExecutionException.class,
        () -> job.getJobExecutionResult().get(90, TimeUnit.SECONDS));
    Throwable refused = find(failed, SaslAuthenticationException.class);
    assertNotNull(refused, "the job's failure names the refused login:" + chain(failed));
    assertEquals(BAD_LOGIN, refused.getMessage(), chain(failed));
    System.out.printf("[KafkaSecurityTest] wrong password, job failure:%s%n", chain(failed));
    System.out.printf("[KafkaSecurityTest] refusals: %.1f s%n", (System.nanoTime() - t0) / 1e9);
  }
}
