package dev.nann.jobs;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.indexsync.SnapshotPublisher;
import dev.nann.local.LocalKafka;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.UserEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** A real broker, a small synthetic catalog with a published snapshot, and Kafka clients for tests. */
final class ServingFixture implements AutoCloseable {
  static final int ITEMS = 2000;
  static final int DIM = 16;
  static final Path MODEL = Path.of(System.getProperty("nann.repo", ".")).resolve("models/fixtures/attention-d16");

  final LocalKafka kafka;
  final Corpus corpus;
  final IndexDescriptor index;
  /** The snapshot store and model root of the job under test. */
  private final Path root;
  KafkaProducer<byte[], byte[]> producer;
  private final AvroCodec<RetrievalRequest> requests = AvroCodec.of(RetrievalRequest.class);
  private final AvroCodec<UserEvent> events = AvroCodec.of(UserEvent.class);
  private final AvroCodec<IndexDescriptor> descriptors = AvroCodec.of(IndexDescriptor.class);
  private final AvroCodec<dev.nann.schemas.ItemEmbedding> items = AvroCodec.of(dev.nann.schemas.ItemEmbedding.class);

  ServingFixture(Path dir) throws Exception {
    root = dir;
    kafka = LocalKafka.start(dir.resolve("kafka"));
    corpus = SyntheticCorpus.generate(ITEMS, DIM, 300, 11);
    index = new SnapshotPublisher(dir, 16, 40, 1).publish(1, corpus.embeddings(), DIM, corpus.itemIds(), 1, n -> { });
  }

  /** A fresh producer per test, on the topics just created (and waited for) by {@link #config}. */
  private void newProducer() {
    if (producer != null) {
      producer.close();
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("linger.ms", "5");
    p.put("max.in.flight.requests.per.connection", "1");   // see ServingClient: KAFKA-15591
    p.put("max.request.size", "4194304");   // what the broker takes: tests send records the job must refuse
    producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }

  /** Serving settings for topics named with {@code prefix}, on this broker and model. */
  ServingConfig config(String prefix, Path checkpoints, Map<String, String> extra) throws Exception {
    Map<String, String> m = new java.util.TreeMap<>();
    m.put("kafka.bootstrap-servers", kafka.bootstrapServers());
    m.put("kafka.group-id", prefix + "-serving");
    m.put("kafka.starting-offsets", "earliest");
    m.put("kafka.transactional-id-prefix", prefix);
    for (String t : List.of("requests", "responses", "user-events", "candidates", "index-updates", "model-updates",
        "dead-letter", "item-embeddings")) {
      m.put("topics." + t, prefix + "-" + t);
    }
    m.put("model.dir", MODEL.toString());
    m.put("kafka.delivery", "exactly-once");   // these tests count every answer exactly once, restarts included
    m.put("snapshot.dir", root.toString());
    m.put("model.root", root.toString());
    m.put("checkpoint.interval-ms", "1000");
    m.put("checkpoint.dir", checkpoints.toUri().toString());
    m.put("async.timeout-ms", "20000");
    m.putAll(extra);
    ServingConfig cfg = ServingConfig.of(m);
    kafka.createTopics(cfg.topics(), 2, cfg.compactedTopics());
    newProducer();
    return cfg;
  }

  void publishIndex(ServingConfig cfg) {
    publishIndex(cfg, index);
  }

  void publishIndex(ServingConfig cfg, IndexDescriptor d) {
    send(cfg.get(ServingOptions.TOPIC_INDEX_UPDATES), "index", descriptors.encode(d));
    producer.flush();
  }

  /** Copies a fixture model under a new version (optionally corrupting score.onnx) and publishes its descriptor. */
  void publishModel(ServingConfig cfg, String arch, int d, String version, boolean corrupt)
      throws IOException {
    Path src = ServingFixture.MODEL.resolveSibling(arch + "-d" + d);
    Path dst = root.resolve("models").resolve(version);
    Files.createDirectories(dst);
    try (Stream<Path> files = Files.list(src)) {
      for (Path f : files.toList()) {
        Files.copy(f, dst.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    Path json = dst.resolve("model.json");
    Files.writeString(json, Files.readString(json).replaceFirst("\"version\": \"[^\"]*\"", "\"version\": \"" + version + "\""));
    if (corrupt) {
      byte[] b = Files.readAllBytes(dst.resolve("score.onnx"));
      b[b.length / 2] ^= 0x33;
      Files.write(dst.resolve("score.onnx"), b);
    }
    send(cfg.get(ServingOptions.TOPIC_MODEL_UPDATES), "model", AvroCodec.of(dev.nann.schemas.ModelDescriptor.class).encode(
        dev.nann.schemas.ModelDescriptor.newBuilder().setVersion(version).setUri(dst.toAbsolutePath().toString())
            .setSha256(dev.nann.scorer.ModelSpec.sha256(json)).setItemDim(d).build()));
    producer.flush();
  }

  /** The embedding of a catalog item of the fixture's corpus. */
  List<Float> embedding(long itemId) {
    for (int i = 0; i < corpus.itemIds().length; i++) {
      if (corpus.itemIds()[i] == itemId) {
        List<Float> v = new ArrayList<>();
        for (int j = 0; j < DIM; j++) {
          v.add(corpus.embeddings()[i * DIM + j]);
        }
        return v;
      }
    }
    throw new IllegalArgumentException("no item " + itemId);
  }

  /** Sends a catalog change to the job's item-embeddings topic. */
  void sendItem(ServingConfig cfg, dev.nann.schemas.ItemEmbedding item) {
    send(cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS), Long.toString(item.getItemId()), items.encode(item));
    producer.flush();
  }

  void send(String topic, String key, byte[] value) {
    producer.send(new ProducerRecord<>(topic, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value));
  }

  void sendRequest(ServingConfig cfg, RetrievalRequest r) {
    sendRequest(cfg, r, -1);
  }

  /** A request whose client stamped {@code sentMicros} as its send time ({@link SentAtHeader}; none if negative). */
  void sendRequest(ServingConfig cfg, RetrievalRequest r, long sentMicros) {
    ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(cfg.get(ServingOptions.TOPIC_REQUESTS),
        Long.toString(r.getUserId()).getBytes(StandardCharsets.UTF_8), requests.encode(r));
    rec.headers().add("correlation-id", ("corr-" + r.getRequestId()).getBytes(StandardCharsets.UTF_8));
    if (sentMicros >= 0) {
      rec.headers().add(SentAtHeader.NAME, SentAtHeader.encode(sentMicros));
    }
    producer.send(rec);
  }

  void sendEvent(ServingConfig cfg, UserEvent e) {
    send(cfg.get(ServingOptions.TOPIC_USER_EVENTS), Long.toString(e.getUserId()), events.encode(e));
  }

  byte[] encodeEvent(UserEvent e) {
    return events.encode(e);
  }

  byte[] encodeRequest(RetrievalRequest r) {
    return requests.encode(r);
  }

  static RetrievalRequest request(String id, long user, int k) {
    return RetrievalRequest.newBuilder().setRequestId(id).setUserId(user).setK(k).setMode("nann")
        .setCreatedAtMillis(System.currentTimeMillis()).build();
  }

  /** Behaviour events of the corpus' first {@code users} users. */
  void sendHistories(ServingConfig cfg, int users) {
    long t = 1;
    for (int u = 0; u < users; u++) {
      for (int row : corpus.users().get(u).behavior()) {
        sendEvent(cfg, UserEvent.newBuilder().setUserId(u).setItemId(corpus.itemIds()[row]).setTimestampMillis(t++)
            .build());
      }
    }
    producer.flush();
  }

  /** A read_committed consumer of {@code topic} from the beginning. */
  KafkaConsumer<byte[], byte[]> consumer(String topic) {
    return consumer(kafka.bootstrapServers(), topic);
  }

  /** A read_committed consumer of {@code topic} on {@code bootstrap}, from the beginning. */
  static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("group.id", topic + "-reader-" + System.nanoTime());
    p.put("auto.offset.reset", "earliest");
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    c.subscribe(List.of(topic));
    return c;
  }

  /** Polls until {@code done} holds for all records read so far, or the timeout passes. */
  static List<ConsumerRecord<byte[], byte[]>> pollUntil(KafkaConsumer<byte[], byte[]> c, List<ConsumerRecord<byte[], byte[]>> into,
                                                       Predicate<List<ConsumerRecord<byte[], byte[]>>> done, Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    while (!done.test(into) && System.nanoTime() < end) {
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
        into.add(r);
      }
    }
    return into;
  }

  /** Answers whose request id starts with {@code prefix}, by id; {@code counts} counts each id's answers. */
  static Map<String, dev.nann.schemas.RetrievalResponse> answers(List<ConsumerRecord<byte[], byte[]>> records,
                                                                 String prefix, Map<String, Integer> counts)
      throws java.io.IOException {
    AvroCodec<dev.nann.schemas.RetrievalResponse> codec = AvroCodec.of(dev.nann.schemas.RetrievalResponse.class);
    Map<String, dev.nann.schemas.RetrievalResponse> out = new java.util.HashMap<>();
    for (ConsumerRecord<byte[], byte[]> r : records) {
      dev.nann.schemas.RetrievalResponse resp = codec.decode(r.value());
      if (resp.getRequestId().startsWith(prefix)) {
        out.put(resp.getRequestId(), resp);
        counts.merge(resp.getRequestId(), 1, Integer::sum);
      }
    }
    return out;
  }

  /** Distinct record keys (answers: request ids) that start with {@code prefix}. */
  static long distinct(List<ConsumerRecord<byte[], byte[]>> records, String prefix) {
    return records.stream().map(r -> new String(r.key(), StandardCharsets.UTF_8)).filter(k -> k.startsWith(prefix))
        .distinct().count();
  }

  /** The number of a checkpoint directory ({@code chk-N}). */
  static long checkpointNumber(Path chk) {
    return Long.parseLong(chk.getFileName().toString().substring(4));
  }

  /**
   * The newest completed checkpoint under a job's checkpoint directory. A cancelled job may still be
   * discarding an unfinished checkpoint while we look, so a directory that vanishes mid-listing is
   * skipped rather than failing the walk.
   */
  static Path latestCheckpoint(Path root) throws java.io.IOException {
    List<Path> completed = new ArrayList<>();
    java.nio.file.Files.walkFileTree(root, java.util.Set.of(), 2, new java.nio.file.SimpleFileVisitor<>() {
      @Override
      public java.nio.file.FileVisitResult preVisitDirectory(Path d, java.nio.file.attribute.BasicFileAttributes a) {
        if (d.getFileName().toString().startsWith("chk-") && java.nio.file.Files.exists(d.resolve("_metadata"))) {
          completed.add(d);
        }
        return java.nio.file.FileVisitResult.CONTINUE;
      }

      @Override
      public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes a) {
        // depth 2 reports chk-N directories as files; take them here too
        return preVisitDirectory(f, a);
      }

      @Override
      public java.nio.file.FileVisitResult visitFileFailed(Path f, java.io.IOException e) throws java.io.IOException {
        if (e instanceof java.nio.file.NoSuchFileException) {
          return java.nio.file.FileVisitResult.CONTINUE;   // discarded while we listed
        }
        throw e;
      }
    });
    return completed.stream()
        .max(java.util.Comparator.comparingLong(ServingFixture::checkpointNumber))
        .orElseThrow(() -> new AssertionError("no completed checkpoint under " + root));
  }

  /** Starts the serving job on a MiniCluster (no restarts: a failure ends the job and shows), from {@code restorePath} if set. */
  static org.apache.flink.core.execution.JobClient startJob(ServingConfig cfg, String restorePath) throws Exception {
    org.apache.flink.configuration.Configuration conf = ServingJob.flinkConfiguration(cfg);
    conf.setString("restart-strategy.type", "none");
    conf.setString("metrics.reporter.collect.factory.class", CollectingReporter.Factory.class.getName());
    // operator metrics named by job id as well: a test reads its own job's, not an earlier one's
    conf.setString("metrics.scope.operator", "<host>.taskmanager.<tm_id>.<job_id>.<operator_name>.<subtask_index>");
    if (restorePath != null) {
      conf.setString("execution.state-recovery.path", restorePath);
    }
    org.apache.flink.streaming.api.environment.StreamExecutionEnvironment env =
        org.apache.flink.streaming.api.environment.StreamExecutionEnvironment.createLocalEnvironment(conf);
    ServingJob.build(env, cfg);
    return env.executeAsync("nann-serving-test");
  }

  /**
   * Sends a request (user 1, k = 10) with a fresh id (when {@code prefix} is set) every second and
   * returns the first answer to one of them (or, without a prefix, the first answer) that satisfies
   * {@code accept}.
   */
  dev.nann.schemas.RetrievalResponse askUntil(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses, String prefix,
                                              Predicate<dev.nann.schemas.RetrievalResponse> accept) throws java.io.IOException {
    AvroCodec<dev.nann.schemas.RetrievalResponse> codec = AvroCodec.of(dev.nann.schemas.RetrievalResponse.class);
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    int n = 0;
    while (System.nanoTime() < end) {
      if (prefix != null) {
        sendRequest(cfg, request(prefix + n++, 1, 10));
        producer.flush();
      }
      for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(1000))) {
        dev.nann.schemas.RetrievalResponse resp = codec.decode(r.value());
        if ((prefix == null || resp.getRequestId().startsWith(prefix)) && accept.test(resp)) {
          return resp;
        }
      }
    }
    throw new AssertionError("no matching answer within 90 s");
  }

  static List<ConsumerRecord<byte[], byte[]>> newList() {
    return new ArrayList<>();
  }

  @Override
  public void close() throws Exception {
    if (producer != null) {
      producer.close();
    }
    kafka.close();
  }
}
