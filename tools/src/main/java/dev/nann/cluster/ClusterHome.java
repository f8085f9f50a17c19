package dev.nann.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The directory a local cluster lives in: Flink and Kafka configuration, logs, process ids, the
 * shared checkpoint and snapshot directories every TaskManager reads and writes (as a shared file
 * system would be on a real cluster), and the broker's log directory.
 */
public record ClusterHome(Path dir) {
  public ClusterHome {
    dir = dir.toAbsolutePath().normalize();
  }

  /** Flink's configuration directory ({@code config.yaml}, log4j), also the client's {@code FLINK_CONF_DIR}. */
  public Path conf() {
    return dir.resolve("conf");
  }

  public Path logs() {
    return dir.resolve("logs");
  }

  /** Shared checkpoint directory of both jobs. */
  public Path checkpoints() {
    return dir.resolve("checkpoints");
  }

  /** Shared snapshot store: index-sync writes, serving TaskManagers read. */
  public Path snapshots() {
    return dir.resolve("snapshots");
  }

  Path kafkaData() {
    return dir.resolve("kafka");
  }

  Path pids() {
    return dir.resolve("pids");
  }

  Path state() {
    return dir.resolve("cluster.properties");
  }

  /** Creates the directories. */
  void create() throws IOException {
    for (Path p : new Path[] {conf(), logs(), checkpoints(), snapshots(), kafkaData(), pids()}) {
      Files.createDirectories(p);
    }
  }
}
