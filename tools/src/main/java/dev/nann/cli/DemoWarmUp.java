package dev.nann.cli;

import dev.nann.local.JitActivity;
import java.io.PrintStream;
import java.util.Locale;

/**
 * The demo's warm-up: requests at the demo's rate until the JIT has settled (it compiled under
 * {@link JitActivity#SETTLED_SHARE} of a core since the last look) or {@code limitSeconds} have
 * passed. Their answers are shown but not counted, so the summary describes steady serving rather
 * than a fresh JVM compiling the broker's, Flink's and the job's code on the same cores.
 */
final class DemoWarmUp {
  private final JitActivity jit = new JitActivity();
  private final int limitSeconds;
  private final long startNanos = System.nanoTime();
  private final PrintStream log;
  private boolean warming;
  private long endNanos;
  private int answers;
  private int looks;

  /** Starts warming now, unless {@code limitSeconds} is 0 or this JVM does not time its compiler. */
  DemoWarmUp(int limitSeconds, PrintStream log) {
    this.limitSeconds = limitSeconds;
    this.log = log;
    this.warming = limitSeconds > 0 && jit.measurable();
    this.endNanos = startNanos;
  }

  /** Whether requests sent now are warm-up requests. */
  boolean warming() {
    return warming;
  }

  /** Counts one warm-up answer; returns how many there have been. */
  int answered() {
    return ++answers;
  }

  /** Warm-up answers so far. */
  int answers() {
    return answers;
  }

  /** How long it lasted (so far, while it lasts). */
  double seconds() {
    return ((warming ? System.nanoTime() : endNanos) - startNanos) / 1e9;
  }

  /** When counting started (its end), in {@link System#nanoTime()}. */
  long endNanos() {
    return endNanos;
  }

  /** A look at the JIT, every 2 s while warming: ends the warm-up once it settled or the limit passed. */
  void look() {
    double share = jit.shareSinceLast();
    double secs = seconds();
    if (share <= JitActivity.SETTLED_SHARE || secs >= limitSeconds) {
      warming = false;
      endNanos = System.nanoTime();
      log.printf(Locale.ROOT, "[demo] warmed up: %,d answers in %.0f s, the JIT compiling %.0f%% of a core over the "
          + "last look; counting from here%n", answers, secs, 100 * share);
    } else if (++looks % 5 == 0) {   // a line every 10 s
      log.printf(Locale.ROOT, "[demo] warming up: %,d answers, the JIT compiling %.0f%% of a core%n", answers, 100 * share);
    }
  }
}
