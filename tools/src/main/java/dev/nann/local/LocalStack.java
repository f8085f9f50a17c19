package dev.nann.local;

import dev.nann.jobs.IndexSyncOptions;
import dev.nann.jobs.ServingOptions;
import dev.nann.indexsync.ShardedBulkLoad;
import dev.nann.jobs.IndexSyncConfig;
import dev.nann.jobs.IndexSyncJob;
import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingJob;
import dev.nann.schemas.IndexDescriptor;
import java.time.Duration;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Everything {@code ./nann demo} and the serving benchmark run on one machine: a real Kafka broker
 * on 127.0.0.1, the topics, the catalog sent to item-embeddings, and one Flink MiniCluster job
 * running both the index-sync pipeline (which builds and publishes the snapshot) and the serving
 * pipeline (RocksDB state, checkpoints under the work directory).
 */
public final class LocalStack implements AutoCloseable {
  public final LocalKafka kafka;
  public final ServingConfig config;
  public final IndexDescriptor index;
  public final ServingClient client;
  private final JobClient job;

  private final Path workDir;
  private final WorkDirLock lock;
  private final Started parts;

  private LocalStack(Path workDir, WorkDirLock lock, Started parts, LocalKafka kafka, ServingConfig config,
                     IndexDescriptor index, ServingClient client, JobClient job) {
    this.workDir = workDir;
    this.lock = lock;
    this.parts = parts;
    this.kafka = kafka;
    this.config = config;
    this.index = index;
    this.client = client;
    this.job = job;
  }

  /**
   * Starts the stack. {@code workDir} is emptied first; it is locked while the stack runs (a second
   * stack on it is refused), and what a failed start had started is stopped again.
   *
   * @param overrides serving settings over the local defaults
   * @param syncOverrides index-sync settings over the local defaults, running the index-sync
   *     pipeline in the same job (the demo); or null (the serving benchmark, where index-sync would
   *     be its own job on other machines) to build the snapshot once up front with index-sync's
   *     {@link ShardedBulkLoad} (one snapshot, or {@code index.shards} shards and a manifest) and publish its descriptor
   */
  public static LocalStack start(Path workDir, Path modelDir, long[] ids, float[] embeddings, int dim,
                                 Map<String, String> overrides, Map<String, String> syncOverrides, PrintStream log)
      throws Exception {
    return start(workDir, modelDir, ids, embeddings, dim, overrides, syncOverrides, log, Map.of());
  }

  /**
   * {@link #start(Path, Path, long[], float[], int, Map, Map, PrintStream)} with Flink settings over
   * the local ones (e.g. {@code restart-strategy.type=none}, so a failure ends the job and shows).
   */
  public static LocalStack start(Path workDir, Path modelDir, long[] ids, float[] embeddings, int dim,
                                 Map<String, String> overrides, Map<String, String> syncOverrides, PrintStream log,
                                 Map<String, String> flink) throws Exception {
    requireOwnWorkDir(workDir);
    WorkDirLock lock = WorkDirLock.acquire(workDir);
    Started started = new Started();
    try {
      return start(workDir, lock, started, modelDir, ids, embeddings, dim, overrides, syncOverrides, log, flink);
    } catch (Throwable e) {
      try {
        started.stop(workDir);
      } catch (Exception stopping) {
        e.addSuppressed(stopping);
      } finally {
        lock.close();
      }
      throw e;
    }
  }

  /** What a start has started so far: stopped by {@link #close}, or at once if the start fails. */
  private static final class Started {
    LocalKafka kafka;
    ServingClient client;
    JobClient job;

    /** Cancels the job (until it has ended), closes the client and the broker, forgets the broker's address. */
    void stop(Path workDir) throws Exception {
      if (job != null) {
        try {
          job.cancel().get(30, java.util.concurrent.TimeUnit.SECONDS);   // a stuck cancel must not hang Ctrl-C
          job.getJobExecutionResult().get(10, java.util.concurrent.TimeUnit.SECONDS);   // until it has ended
        } catch (Exception ignored) {
          // cancelled (its result is the cancellation), or it had already ended
        }
      }
      if (client != null) {
        client.close();
      }
      if (kafka != null) {
        kafka.close();
      }
      // `./nann request` reads the broker's address here: a stopped stack's would make it wait a minute
      Files.deleteIfExists(workDir.resolve("bootstrap"));
    }
  }

  private static LocalStack start(Path workDir, WorkDirLock lock, Started started, Path modelDir, long[] ids,
                                  float[] embeddings, int dim, Map<String, String> overrides,
                                  Map<String, String> syncOverrides, PrintStream log, Map<String, String> flink)
      throws Exception {
    boolean withIndexSync = syncOverrides != null;
    emptyExcept(workDir, WorkDirLock.FILE);
    Files.createDirectories(workDir.resolve("snapshots"));
    Files.writeString(workDir.resolve(MARKER), "a local nann stack's work directory: emptied before every run\n");
    long t0 = System.nanoTime();
    LocalKafka kafka = LocalKafka.start(workDir.resolve("kafka"));
    started.kafka = kafka;
    Files.writeString(workDir.resolve("bootstrap"), kafka.bootstrapServers());
    log.printf("[local] Kafka broker (KRaft) on %s in %.1f s%n", kafka.bootstrapServers(), (System.nanoTime() - t0) / 1e9);
    Map<String, String> m = new TreeMap<>();
    m.put("kafka.bootstrap-servers", kafka.bootstrapServers());
    m.put("kafka.starting-offsets", "earliest");
    m.put("model.dir", modelDir.toAbsolutePath().toString());
    m.put("snapshot.dir", workDir.resolve("snapshots").toAbsolutePath().toString());
    m.put("checkpoint.dir", flinkDir(workDir.resolve("checkpoints")));
    m.put("checkpoint.interval-ms", "1000");
    m.putAll(overrides);
    ServingConfig cfg = ServingConfig.of(m);
    kafka.createTopics(cfg.topics(), 2, cfg.compactedTopics());

    ServingClient client = new ServingClient(kafka.bootstrapServers(), cfg.get(ServingOptions.TOPIC_REQUESTS),
        cfg.get(ServingOptions.TOPIC_RESPONSES), cfg.get(ServingOptions.TOPIC_USER_EVENTS));
    started.client = client;
    Configuration conf = ServingJob.flinkConfiguration(cfg);
    conf.setString("restart-strategy.type", "fixed-delay");
    conf.setString("restart-strategy.fixed-delay.attempts", "3");
    flink.forEach(conf::setString);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
    IndexDescriptor index;
    JobClient job;
    if (withIndexSync) {
      Map<String, String> sm = new TreeMap<>(Map.of(
          "kafka.bootstrap-servers", kafka.bootstrapServers(),
          "topics.index-updates", cfg.get(ServingOptions.TOPIC_INDEX_UPDATES),
          "topics.dead-letter", cfg.get(ServingOptions.TOPIC_DEAD_LETTER),
          "topics.item-embeddings", cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS),
          "snapshot.dir", workDir.resolve("snapshots").toAbsolutePath().toString(),
          "index.dim", Integer.toString(dim),
          "index.build-threads", "2",
          "rebuild.min-changes", Integer.toString(ids.length),   // the first build once the whole catalog is in
          "rebuild.max-interval-ms", "30000"));
      sm.put("index.shards", Integer.toString(cfg.get(ServingOptions.SHARDS)));   // both jobs must agree
      sm.putAll(syncOverrides);
      IndexSyncConfig sync = IndexSyncConfig.of(sm);
      kafka.createTopics(sync.topics(), 1, sync.compactedTopics());
      log.printf("[local] topics: %s%n", String.join(", ", cfg.topics()));
      long t1 = System.nanoTime();
      client.sendCatalog(sync.get(IndexSyncOptions.TOPIC_ITEM_EMBEDDINGS), ids, embeddings, dim);
      log.printf("[local] catalog: %,d item embeddings sent to %s in %.1f s%n", ids.length,
          sync.get(IndexSyncOptions.TOPIC_ITEM_EMBEDDINGS), (System.nanoTime() - t1) / 1e9);
      // one MiniCluster job with both pipelines: index-sync (catalog -> snapshot -> descriptor) and serving
      IndexSyncJob.build(env, sync);
      ServingJob.build(env, cfg);
      job = env.executeAsync("nann-local");
      started.job = job;
      log.printf("[local] index-sync and serving job %s started on a MiniCluster (model %s)%n", job.getJobID(), modelDir);
      t1 = System.nanoTime();
      index = client.awaitIndex(cfg.get(ServingOptions.TOPIC_INDEX_UPDATES), ids.length, Duration.ofMinutes(10));
      log.printf("[index-sync] snapshot v%d: %,d items x %d built, verified and published in %.1f s%n",
          index.getVersion(), index.getItems(), dim, (System.nanoTime() - t1) / 1e9);
    } else {
      log.printf("[local] topics: %s%n", String.join(", ", cfg.topics()));
      long t1 = System.nanoTime();
      index = ShardedBulkLoad.publish(workDir.resolve("snapshots"), 1, ids, embeddings, dim,
          cfg.get(ServingOptions.SHARDS), 32, 40, 2, log).descriptor();
      client.publish(cfg.get(ServingOptions.TOPIC_INDEX_UPDATES), index);
      log.printf("[index-sync] snapshot v%d: %,d items x %d built, verified and published in %.1f s%n",
          index.getVersion(), index.getItems(), dim, (System.nanoTime() - t1) / 1e9);
      ServingJob.build(env, cfg);
      job = env.executeAsync("nann-serving");
      started.job = job;
      log.printf("[local] serving job %s started on a MiniCluster (model %s)%n", job.getJobID(), modelDir);
    }
    return new LocalStack(workDir, lock, started, kafka, cfg, index, client, job);
  }

  public JobClient job() {
    return job;
  }

  /** Cancels the job and stops the broker. */
  @Override
  public void close() throws Exception {
    // a checkpoint in flight when the job is cancelled is declined with a stack trace at WARN: expected here
    String checkpoints = "org.apache.flink.runtime.checkpoint.CheckpointFailureManager";
    org.apache.logging.log4j.Level before = org.apache.logging.log4j.LogManager.getLogger(checkpoints).getLevel();
    org.apache.logging.log4j.core.config.Configurator.setLevel(checkpoints, org.apache.logging.log4j.Level.ERROR);
    try {
      parts.stop(workDir);
    } finally {
      org.apache.logging.log4j.core.config.Configurator.setLevel(checkpoints, before);
      lock.close();
    }
  }

  /** Written into a work directory this class made: one holding it may be emptied on the next start. */
  static final String MARKER = ".nann-local-stack";
  /** What a stack writes into its work directory (one made before the marker holds only these). */
  private static final java.util.Set<String> STACK_ENTRIES = java.util.Set.of("bootstrap", "checkpoints", "kafka",
      "snapshots", WorkDirLock.FILE);

  /**
   * Refuses a work directory this class did not make: it is emptied before every run, and a user's
   * {@code --work-dir .} must not cost them the directory. Empty, new, marked, or holding only what
   * an earlier stack writes, its broker's address among it, are fine.
   */
  static void requireOwnWorkDir(Path workDir) throws IOException {
    if (Files.exists(workDir) && !Files.isDirectory(workDir)) {
      throw new IllegalArgumentException(workDir + " is a file, not a directory for the local stack");
    }
    if (!Files.isDirectory(workDir)) {
      return;
    }
    java.util.Set<String> names;
    try (Stream<Path> entries = Files.list(workDir)) {
      names = entries.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet());
    }
    // unmarked: an earlier stack's, made before the marker, always has its broker's address file
    if (names.isEmpty() || names.contains(MARKER) || names.contains("bootstrap") && STACK_ENTRIES.containsAll(names)) {
      return;
    }
    throw new IllegalArgumentException(workDir + " is not empty and holds no local nann stack; it would be emptied "
        + "before the run: choose an empty or new directory");
  }

  /** Deletes everything in {@code dir} but its entry {@code keep}. */
  private static void emptyExcept(Path dir, String keep) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path p : entries.filter(p -> !p.getFileName().toString().equals(keep)).toList()) {
        deleteTree(p);
      }
    }
  }

  public static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /**
   * A local directory as a Flink file-system URI, not percent-encoded: Flink's Path escapes the string
   * itself, so java.net.URI's {@code my%20repo} would become a directory of that name beside the real one.
   */
  public static String flinkDir(Path dir) {
    return "file://" + dir.toAbsolutePath().normalize();
  }
}
