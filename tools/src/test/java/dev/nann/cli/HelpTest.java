package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command and subcommand answers --help with its usage and exit 0 (an option clashing with the help mixin dropped it). */
class HelpTest {
  @Test
  void everyCommandAnswersHelp() {
    List<List<String>> paths = new ArrayList<>();
    collect(Nann.commandLine(), new ArrayList<>(), paths);
    assertTrue(paths.size() > 10, "commands found: " + paths);
    for (List<String> path : paths) {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      CommandLine cli = Nann.commandLine();
      cli.setOut(new PrintWriter(out));
      cli.setErr(new PrintWriter(err));
      List<String> args = new ArrayList<>(path);
      args.add("--help");
      int code = cli.execute(args.toArray(String[]::new));
      assertEquals(0, code, String.join(" ", args) + ": " + err);
      assertTrue(out.toString().contains("Usage:"), String.join(" ", args) + " printed no usage: " + out);
    }
  }

  private static void collect(CommandLine cmd, List<String> path, List<List<String>> into) {
    into.add(path);
    cmd.getSubcommands().forEach((name, sub) -> {
      if (name.equals(sub.getCommandName()) && !name.equals("help")) {   // aliases once, picocli's help command apart
        List<String> next = new ArrayList<>(path);
        next.add(name);
        collect(sub, next, into);
      }
    });
  }
}
