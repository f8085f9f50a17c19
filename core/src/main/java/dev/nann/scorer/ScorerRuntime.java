package dev.nann.scorer;

import java.io.Serializable;
import java.util.Locale;

/**
 * Where and how ONNX Runtime runs a model's networks.
 *
 * <p>{@link Provider#AUTO} uses the CUDA execution provider when this build has it (the
 * {@code -Pgpu} build ships {@code onnxruntime_gpu}) and a GPU answers, and otherwise says so in one
 * log line and scores on the CPU; {@link Provider#CUDA} refuses to start without a GPU, so a GPU
 * TaskManager that lost its device fails fast instead of serving slowly.
 *
 * @param provider which execution provider to use
 * @param deviceId CUDA device ordinal (ignored on CPU)
 * @param intraOpThreads ONNX Runtime threads per call (CPU provider)
 */
public record ScorerRuntime(Provider provider, int deviceId, int intraOpThreads) implements Serializable {
  /** Execution providers nann knows. */
  public enum Provider {
    CPU, CUDA, AUTO;

    /** Parses {@code cpu}, {@code cuda} or {@code auto} (any case). */
    public static Provider parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException | NullPointerException e) {
        throw new IllegalArgumentException("scorer provider must be cpu, cuda or auto, got '" + s + "'");
      }
    }
  }

  public ScorerRuntime {
    if (provider == null) {
      throw new IllegalArgumentException("provider is required");
    }
    if (deviceId < 0) {
      throw new IllegalArgumentException("CUDA device id must be >= 0, got " + deviceId);
    }
    if (intraOpThreads < 1) {
      throw new IllegalArgumentException("intra-op threads must be >= 1, got " + intraOpThreads);
    }
  }

  /** The CPU provider with {@code intraOpThreads} threads per call. */
  public static ScorerRuntime cpu(int intraOpThreads) {
    return new ScorerRuntime(Provider.CPU, 0, intraOpThreads);
  }
}
