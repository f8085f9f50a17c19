package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.cli.Nann;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Load benchmarks refuse numbers they cannot run with in one line, before a corpus is made or a
 * stack started (a rate of 0 divided by zero in a sender thread or flooded Kafka; an unknown
 * --batching ran with batching off under its name).
 */
class BenchOptionsTest {
  @Test
  void numbersALoadCannotRunWithAreOneLineBeforeAnythingStarts() {
    List<String[]> bad = List.of(
        new String[] {"bench", "serving", "--rates", "0"},
        new String[] {"bench", "serving", "--batching", "yes"},
        new String[] {"bench", "serving", "--seconds", "0"},
        new String[] {"bench", "freshness", "--upserts-per-s", "0"},
        new String[] {"bench", "freshness", "--rates", "-5"},
        new String[] {"bench", "overload", "--rate", "0"},
        new String[] {"bench", "overload", "--factor", "0"});
    for (String[] args : bad) {
      StringWriter err = new StringWriter();
      CommandLine cli = Nann.commandLine();
      cli.setErr(new PrintWriter(err));
      assertEquals(2, cli.execute(args), String.join(" ", args) + ": " + err);
      assertTrue(err.toString().startsWith("nann: "), String.join(" ", args) + ": " + err);
    }
  }
}
