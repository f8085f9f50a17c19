package dev.nann.cli.bench;

import java.util.List;
import java.util.OptionalDouble;

/**
 * The offered rates of a load benchmark, one step at a time: the listed rates in order, then, while
 * no rate above the best one has missed its latency budget, rates climbing from the best by a
 * factor, and once one misses, rates halving the gap between the highest rate that held and the
 * lowest above it that missed, until that gap is within {@link #PRECISION} of the rate that held.
 *
 * <p>Why climb: a fixed list caps what a benchmark can report at its top rate, whatever the machine;
 * a faster machine (or a GPU) would read as no better than the list's last entry. The climb stops at
 * the caller's cap (the serving bench's: a margin over the scorer's ceiling, which no pipeline can
 * beat). A step that says stop (the job fell behind, or its p99 is far over budget) skips the rest
 * of the list; only the halving goes on after it, since each of its rates lies below one that
 * already missed.
 */
final class RateLadder {
  /** The halving ends once the gap is within this share of the rate that held. */
  static final double PRECISION = 0.05;

  private final List<Double> listed;
  private final double climbFactor;
  private int nextListed;
  /** The lowest rate above the best one that missed (the halving's upper end). */
  private double lowestMiss = Double.POSITIVE_INFINITY;
  private final java.util.TreeSet<Double> held = new java.util.TreeSet<>();
  private double lowestMissEver = Double.POSITIVE_INFINITY;

  /**
   * @param listed rates to run first, in order (at least one, each > 0)
   * @param climbFactor each climbed rate is the best so far times this; 1 or less: the listed rates
   *     only, neither climbing nor halving
   */
  RateLadder(List<Double> listed, double climbFactor) {
    if (listed.isEmpty() || listed.stream().anyMatch(r -> !(r > 0))) {
      throw new IllegalArgumentException("rates must be > 0, at least one, got " + listed);
    }
    this.listed = List.copyOf(listed);
    this.climbFactor = climbFactor;
  }

  /** The next rate to offer, or empty when the ladder is done; {@code cap} bounds climbed rates. */
  OptionalDouble next(double cap) {
    double best = best();
    if (nextListed < listed.size()) {
      return OptionalDouble.of(listed.get(nextListed));
    }
    if (!(climbFactor > 1) || best <= 0) {
      return OptionalDouble.empty();
    }
    if (lowestMiss == Double.POSITIVE_INFINITY) {
      // nothing above the best has missed: climb from it
      double rate = Math.round(best * climbFactor);
      return rate > best && rate <= cap ? OptionalDouble.of(rate) : OptionalDouble.empty();
    }
    if (lowestMiss - best <= PRECISION * best) {
      return OptionalDouble.empty();
    }
    double rate = Math.round((best + lowestMiss) / 2);
    return rate > best && rate < lowestMiss ? OptionalDouble.of(rate) : OptionalDouble.empty();
  }

  /**
   * What the step at {@code rate} showed: whether it held the budget, and whether the listed rates
   * left must be skipped (a job that fell behind: every higher listed rate would too).
   */
  void record(double rate, boolean held, boolean stop) {
    nextListed = stop ? listed.size() : Math.min(listed.size(), nextListed + 1);
    double best = best();
    if (held && rate > best) {
      if (lowestMiss <= rate) {
        lowestMiss = Double.POSITIVE_INFINITY;   // a miss below a rate that held was noise
      }
    } else if (!held && rate > best) {
      lowestMiss = Math.min(lowestMiss, rate);
    }
    if (held) {
      this.held.add(rate);
    } else {
      lowestMissEver = Math.min(lowestMissEver, rate);
    }
  }

  /**
   * The highest rate that held its budget, 0 when none did. A miss at a lower rate is taken for noise
   * here (the edge moves between steps on a shared machine); {@link #steadyBest} does not.
   */
  double best() {
    return held.isEmpty() ? 0 : held.last();
  }

  /** The highest rate that held with no rate at or below it missing, 0 when none did. */
  double steadyBest() {
    Double below = held.lower(lowestMissEver);
    return below == null ? 0 : below;
  }
}
