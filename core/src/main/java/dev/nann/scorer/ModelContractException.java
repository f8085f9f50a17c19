package dev.nann.scorer;

/** A model directory that breaks nann's model contract (missing file, wrong tensor name, type or dimension). */
public final class ModelContractException extends RuntimeException {
  public ModelContractException(String message) {
    super(message);
  }

  public ModelContractException(String message, Throwable cause) {
    super(message, cause);
  }
}
