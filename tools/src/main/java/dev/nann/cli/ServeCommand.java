package dev.nann.cli;

import dev.nann.jobs.ServingOptions;
import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingJob;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./nann serve --config FILE}: runs the serving job against an external Kafka. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Runs the serving job against an external Kafka cluster, on an embedded MiniCluster (or, inside",
        "`flink run`, on the cluster). Settings come from a properties file; see docs/configuration.md."})
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "properties file with the serving settings")
  Path config;

  @Option(names = "--create-topics", description = "create missing topics first (single replica; for test clusters; "
      + "through an admin client with the file's kafka.properties.*)")
  boolean createTopics;

  @Override
  public Integer call() throws Exception {
    ServingConfig cfg = ServingConfig.load(config);
    if (createTopics) {
      dev.nann.local.LocalKafka.createTopics(cfg.get(ServingOptions.BOOTSTRAP_SERVERS), cfg.kafkaProperties(), cfg.topics(),
          cfg.get(ServingOptions.PARALLELISM), cfg.compactedTopics());
    }
    ServingJob.run(cfg);
    return 0;
  }
}
