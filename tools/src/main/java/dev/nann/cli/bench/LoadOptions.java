package dev.nann.cli.bench;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Shared options of the load benchmarks: the offered load and where results go. */
public final class LoadOptions {
  /** The rates run when {@code --rates} is not given. */
  static final List<Double> DEFAULT_RATES = List.of(25.0, 50.0, 100.0, 150.0, 200.0, 300.0);

  @Option(names = "--rates", split = ",", description = "offered requests/s, in order (default: 25,50,100,150,200,300)")
  List<Double> rates;

  @Option(names = "--seconds", description = "seconds per rate (default: ${DEFAULT-VALUE})")
  int seconds = 15;

  @Option(names = "--k", description = "items per answer (default: ${DEFAULT-VALUE})")
  int k = 200;

  @Option(names = "--delivery", description = "exactly-once or at-least-once responses (default: ${DEFAULT-VALUE}); "
      + "with exactly-once a read_committed client waits for the checkpoint that commits each answer")
  String delivery = "at-least-once";

  @Option(names = "--json", description = "also append JSON lines to this file")
  Path json;

  /**
   * Refuses, before anything starts, numbers the load cannot run with: a rate of 0 or below (or not
   * a number) floods or divides by zero, seconds or k below 1 measure nothing.
   */
  void check() {
    for (double r : rates()) {
      if (!(r > 0 && r < 1e6)) {
        throw new IllegalArgumentException("--rates must be requests/s above 0 (and below a million), got " + r);
      }
    }
    if (seconds < 1 || k < 1) {
      throw new IllegalArgumentException("--seconds and --k must be at least 1");
    }
    if (!delivery.equals("exactly-once") && !delivery.equals("at-least-once")) {
      throw new IllegalArgumentException("--delivery must be exactly-once or at-least-once, got '" + delivery + "'");
    }
  }

  /** The offered rates: {@code --rates}, or {@link #DEFAULT_RATES} when it was not given. */
  List<Double> rates() {
    return rates == null ? DEFAULT_RATES : rates;
  }

  /** Whether {@code --rates} was given (a benchmark may go past its default list, never past a given one). */
  boolean ratesGiven() {
    return rates != null;
  }
}
