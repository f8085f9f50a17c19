package dev.nann.local;

import dev.nann.indexsync.SnapshotPublisher;
import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingJob;
import dev.nann.schemas.IndexDescriptor;
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
 * on 127.0.0.1, the topics, an index snapshot built and published by index-sync's
 * {@link SnapshotPublisher}, and the serving job on a Flink MiniCluster (RocksDB state,
 * checkpoints under the work directory).
 */
public final class LocalStack implements AutoCloseable {
  public final LocalKafka kafka;
  public final ServingConfig config;
  public final IndexDescriptor index;
  public final ServingClient client;
  private final JobClient job;

  private LocalStack(LocalKafka kafka, ServingConfig config, IndexDescriptor index, ServingClient client, JobClient job) {
    this.kafka = kafka;
    this.config = config;
    this.index = index;
    this.client = client;
    this.job = job;
  }

  /**
   * Starts the stack. {@code workDir} is emptied first.
   *
   * @param overrides serving settings over the local defaults
   */
  public static LocalStack start(Path workDir, Path modelDir, long[] ids, float[] embeddings, int dim,
                                 Map<String, String> overrides, PrintStream log) throws Exception {
    deleteTree(workDir);
    Files.createDirectories(workDir.resolve("snapshots"));
    long t0 = System.nanoTime();
    LocalKafka kafka = LocalKafka.start(workDir.resolve("kafka"));
    Files.writeString(workDir.resolve("bootstrap"), kafka.bootstrapServers());
    log.printf("[local] Kafka broker (KRaft) on %s in %.1f s%n", kafka.bootstrapServers(), (System.nanoTime() - t0) / 1e9);
    Map<String, String> m = new TreeMap<>();
    m.put("kafka.bootstrap-servers", kafka.bootstrapServers());
    m.put("kafka.starting-offsets", "earliest");
    m.put("model.dir", modelDir.toAbsolutePath().toString());
    m.put("snapshot.dir", workDir.resolve("snapshots").toAbsolutePath().toString());
    m.put("checkpoint.dir", workDir.resolve("checkpoints").toAbsolutePath().toUri().toString());
    m.put("checkpoint.interval-ms", "1000");
    m.putAll(overrides);
    ServingConfig cfg = ServingConfig.of(m);
    kafka.createTopics(cfg.topics(), 2, cfg.compactedTopics());
    log.printf("[local] topics: %s%n", String.join(", ", cfg.topics()));

    t0 = System.nanoTime();
    IndexDescriptor index = new SnapshotPublisher(workDir.resolve("snapshots"), 32, 40, 2)
        .publish(1, embeddings, dim, ids, 1, n -> log.printf("[index-sync] %,d of %,d items inserted%n", n, ids.length));
    ServingClient client = new ServingClient(kafka.bootstrapServers(), cfg.get("topics.requests"),
        cfg.get("topics.responses"), cfg.get("topics.user-events"));
    client.publish(cfg.get("topics.index-updates"), index);
    log.printf("[index-sync] snapshot v%d: %,d items x %d, built and verified in %.1f s, descriptor published to %s%n",
        index.getVersion(), index.getItems(), dim, (System.nanoTime() - t0) / 1e9, cfg.get("topics.index-updates"));

    Configuration conf = ServingJob.flinkConfiguration(cfg);
    conf.setString("restart-strategy.type", "fixed-delay");
    conf.setString("restart-strategy.fixed-delay.attempts", "3");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
    ServingJob.build(env, cfg);
    JobClient job = env.executeAsync("nann-serving");
    log.printf("[local] serving job %s started on a MiniCluster (model %s)%n", job.getJobID(), modelDir);
    return new LocalStack(kafka, cfg, index, client, job);
  }

  public JobClient job() {
    return job;
  }

  /** Cancels the job and stops the broker. */
  @Override
  public void close() throws Exception {
    try {
      job.cancel().get();
    } catch (Exception ignored) {
      // the job may already have ended
    }
    client.close();
    kafka.close();
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
