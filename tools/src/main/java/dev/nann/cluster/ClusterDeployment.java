package dev.nann.cluster;

import dev.nann.jobs.IndexSyncConfig;
import dev.nann.jobs.ServingConfig;
import dev.nann.local.LocalKafka;
import dev.nann.local.LocalStack;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Both nann jobs deployed on a {@link LocalCluster} from the job jar, as a user deploys them on any
 * Flink cluster: a properties file per job (under {@code <home>/jobs}), the topics, and {@code
 * flink run} of index-sync and serving.
 *
 * @param serving the serving job's settings as written
 * @param servingJob its Flink job id
 * @param indexSyncJob index-sync's Flink job id
 */
public record ClusterDeployment(ServingConfig serving, Path servingFile, String servingJob, IndexSyncConfig indexSync,
                                Path indexSyncFile, String indexSyncJob) {
  /** The serving job's entry point in the job jar. */
  public static final String SERVING_MAIN = "dev.nann.jobs.ServingJob";
  /** Index-sync's entry point in the job jar. */
  public static final String INDEX_SYNC_MAIN = "dev.nann.jobs.IndexSyncJob";

  /**
   * Writes both jobs' settings, creates the topics and submits index-sync, then serving.
   *
   * @param parallelism the serving job's (index-sync's is its own setting, 1 by default)
   * @param servingOverrides serving settings over the cluster's (delivery, checkpoint interval, ...)
   * @param syncOverrides index-sync settings over the cluster's
   */
  public static ClusterDeployment deploy(LocalCluster cluster, Path jobJar, Path modelDir, int dim, int parallelism,
                                         Map<String, String> servingOverrides, Map<String, String> syncOverrides,
                                         PrintStream log) throws Exception {
    ClusterHome home = cluster.home();
    Map<String, String> s = new TreeMap<>();
    s.put("kafka.bootstrap-servers", cluster.bootstrapServers());
    s.put("model.dir", modelDir.toAbsolutePath().normalize().toString());
    s.put("snapshot.dir", home.snapshots().toString());
    s.put("checkpoint.dir", LocalStack.flinkDir(home.checkpoints().resolve("serving")));
    s.put("parallelism", Integer.toString(parallelism));
    s.putAll(servingOverrides);
    ServingConfig serving = ServingConfig.of(s);
    Map<String, String> y = new TreeMap<>();
    y.put("kafka.bootstrap-servers", cluster.bootstrapServers());
    y.put("snapshot.dir", home.snapshots().toString());
    y.put("checkpoint.dir", LocalStack.flinkDir(home.checkpoints().resolve("index-sync")));
    y.put("index.dim", Integer.toString(dim));
    y.putAll(syncOverrides);
    IndexSyncConfig sync = IndexSyncConfig.of(y);

    LocalKafka.createTopics(cluster.bootstrapServers(), serving.topics(), parallelism, serving.compactedTopics());
    LocalKafka.createTopics(cluster.bootstrapServers(), sync.topics(), 1, sync.compactedTopics());
    Path jobs = home.dir().resolve("jobs");
    Files.createDirectories(jobs);
    Path servingFile = write(jobs.resolve("serving.properties"), s);
    Path syncFile = write(jobs.resolve("index-sync.properties"), y);
    long t0 = System.nanoTime();
    String syncJob = JobSubmitter.submit(cluster, jobJar, INDEX_SYNC_MAIN, sync.get(dev.nann.jobs.IndexSyncOptions.PARALLELISM),
        List.of("--config", syncFile.toString()));
    log.printf("[cluster] flink run %s: index-sync job %s (%.1f s)%n", jobJar.getFileName(), syncJob, (System.nanoTime() - t0) / 1e9);
    t0 = System.nanoTime();
    String servingJob = JobSubmitter.submit(cluster, jobJar, SERVING_MAIN, parallelism,
        List.of("--config", servingFile.toString()));
    log.printf("[cluster] flink run %s: serving job %s at parallelism %d (%.1f s)%n", jobJar.getFileName(), servingJob,
        parallelism, (System.nanoTime() - t0) / 1e9);
    return new ClusterDeployment(serving, servingFile, servingJob, sync, syncFile, syncJob);
  }

  private static Path write(Path file, Map<String, String> settings) throws IOException {
    Properties p = new Properties();
    p.putAll(settings);
    try (Writer w = Files.newBufferedWriter(file)) {
      p.store(w, "written by ./nann cluster; the job reads it on the cluster (paths are shared)");
    }
    return file;
  }
}
