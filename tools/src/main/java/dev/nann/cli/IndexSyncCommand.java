package dev.nann.cli;

import dev.nann.jobs.IndexSyncOptions;
import dev.nann.jobs.IndexSyncConfig;
import dev.nann.jobs.IndexSyncJob;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./nann index-sync --config FILE}: runs the index-sync job against an external Kafka. */
@Command(name = "index-sync", mixinStandardHelpOptions = true,
    description = {"Runs the index-sync job (item-embeddings -> catalog -> HNSW snapshot -> index-updates) against",
        "an external Kafka on an embedded MiniCluster. Settings come from a properties file; see docs/configuration.md."})
public final class IndexSyncCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "properties file with the index-sync settings")
  Path config;

  @Option(names = "--create-topics", description = "create missing topics first (single replica; for test clusters; "
      + "through an admin client with the file's kafka.properties.*)")
  boolean createTopics;

  @Override
  public Integer call() throws Exception {
    IndexSyncConfig cfg = IndexSyncConfig.load(config);
    if (createTopics) {
      dev.nann.local.LocalKafka.createTopics(cfg.get(IndexSyncOptions.BOOTSTRAP_SERVERS), cfg.kafkaProperties(),
          cfg.topics(), 1, cfg.compactedTopics());
    }
    IndexSyncJob.run(cfg);
    return 0;
  }
}
