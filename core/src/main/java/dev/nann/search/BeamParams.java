package dev.nann.search;

import java.util.Arrays;

/**
 * Per-layer parameters of Beam-retrieval, listed from the top searched layer down to layer 0
 * (paper notation {ef_2, ef_1, ef_0} and {T_2, T_1, T_0}).
 *
 * <p>Mapping onto a graph with another number of levels: with P entries and a graph of G levels,
 * the search starts at level {@code min(P, G) - 1}, which is scored exhaustively, and uses the last
 * {@code min(P, G)} entries. So a 4-level graph (1M items, M=32) with the default 3 entries starts
 * at level 2 (about 1/M² of the items, the paper's "millesimal" layer) and never touches level 3;
 * a 2-level graph uses {ef_1, ef_0} = {200, 400}, {T_1, T_0} = {1, 3}.
 *
 * @param ef beam width per layer, top first; the last is ef_0 and bounds k
 * @param steps for-loop steps per layer, top first
 */
public record BeamParams(int[] ef, int[] steps) {
  /** Paper defaults: {ef} = {100, 200, 400}, {T} = {1, 1, 3}. */
  public static final BeamParams DEFAULTS = new BeamParams(new int[] {100, 200, 400}, new int[] {1, 1, 3});

  public BeamParams {
    if (ef == null || steps == null || ef.length == 0) {
      throw new IllegalArgumentException("ef and steps need at least one layer");
    }
    if (ef.length != steps.length) {
      throw new IllegalArgumentException("ef has " + ef.length + " layers " + Arrays.toString(ef) + " but steps has "
          + steps.length + " " + Arrays.toString(steps) + "; give one ef and one step count per layer, top first");
    }
    for (int i = 0; i < ef.length; i++) {
      if (ef[i] < 1 || ef[i] > 1_000_000) {
        throw new IllegalArgumentException("ef[" + i + "] must be in [1, 1000000], got " + ef[i]);
      }
      if (steps[i] < 0 || steps[i] > 1000) {
        throw new IllegalArgumentException("steps[" + i + "] must be in [0, 1000], got " + steps[i]);
      }
    }
    ef = ef.clone();
    steps = steps.clone();
  }

  /** Parses "100,200,400" style lists. */
  public static BeamParams parse(String ef, String steps) {
    return new BeamParams(parseList("ef", ef), parseList("steps", steps));
  }

  static int[] parseList(String what, String list) {
    try {
      return Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " must be a comma-separated list of integers, got '" + list + "'");
    }
  }

  /** ef as a comma-separated list, top first ("100,200,400"), as {@link #parse} reads it. */
  public String efList() {
    return join(ef);
  }

  /** steps as a comma-separated list, top first ("1,1,3"). */
  public String stepsList() {
    return join(steps);
  }

  private static String join(int[] values) {
    return Arrays.stream(values).mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(","));
  }

  public int layers() {
    return ef.length;
  }

  /** ef_0, the size of the final candidate list. */
  public int efBottom() {
    return ef[ef.length - 1];
  }

  @Override
  public int[] ef() {
    return ef.clone();
  }

  @Override
  public int[] steps() {
    return steps.clone();
  }

  int efAt(int i) {
    return ef[i];
  }

  int stepsAt(int i) {
    return steps[i];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BeamParams b && Arrays.equals(ef, b.ef) && Arrays.equals(steps, b.steps);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(ef) * 31 + Arrays.hashCode(steps);
  }

  @Override
  public String toString() {
    return "ef=" + Arrays.toString(ef) + " T=" + Arrays.toString(steps);
  }
}
