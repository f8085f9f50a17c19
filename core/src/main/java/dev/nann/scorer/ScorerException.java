package dev.nann.scorer;

/** The scoring runtime failed on a call (the serving job answers SCORER_ERROR). */
public final class ScorerException extends RuntimeException {
  public ScorerException(String message, Throwable cause) {
    super(message, cause);
  }
}
