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
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line with nann's error handling: a bad argument, model (one that cannot load, or
   * scores NaN) or snapshot prints one line
   * and exits 2; a file that cannot be read or written prints one line and exits 1; anything else
   * is a bug and keeps its stack trace.
   */
  public static CommandLine commandLine() {
    return new CommandLine(new Nann()).setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof IllegalArgumentException || e instanceof dev.nann.scorer.ModelContractException
          || e instanceof dev.nann.scorer.ScorerException || e instanceof dev.nann.graph.SnapshotException) {
        cmd.getErr().println("nann: " + e.getMessage());
        return 2;
      }
      if (e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException) {
        cmd.getErr().println("nann: " + ioMessage(e instanceof java.io.UncheckedIOException u ? u.getCause() : e, e));
        return 1;
      }
      throw e;
    });
  }

  /** The file system's exceptions carry only the path as their message: say what happened to it. */
  private static String ioMessage(Throwable cause, Exception thrown) {
    if (cause instanceof java.nio.file.NoSuchFileException n) {
      return "no such file or directory: " + n.getFile();
    }
    if (cause instanceof java.nio.file.AccessDeniedException a) {
      return "permission denied: " + a.getFile();
    }
    return thrown.getMessage();
  }
}
