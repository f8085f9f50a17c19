package dev.nann.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code ./nann} command line. */
@Command(name = "nann", mixinStandardHelpOptions = true, version = "nann 0.1.0",
    description = "Streaming neural-metric retrieval: the user's own model walking an HNSW graph (NANN), on Apache Flink.",
    subcommands = {DemoCommand.class, ClusterCommand.class, ChaosCommand.class, RequestCommand.class, ServeCommand.class, IndexSyncCommand.class, CheckModelCommand.class, BenchCommand.class, EvalCommand.class, CorpusCommand.class, IndexCommand.class, CommandLine.HelpCommand.class})
public final class Nann implements Runnable {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    int code = new CommandLine(new Nann())
        .setExecutionExceptionHandler((e, cmd, parsed) -> {
          if (e instanceof IllegalArgumentException || e instanceof dev.nann.scorer.ModelContractException
              || e instanceof dev.nann.graph.SnapshotException) {
            cmd.getErr().println("nann: " + e.getMessage());
            return 2;
          }
          throw e;
        })
        .execute(args);
    System.exit(code);
  }
}
