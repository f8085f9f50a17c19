package dev.nann.scorer;

/** The per-request output of the user network, held while a query scores candidates. */
public interface UserState extends AutoCloseable {
  @Override
  void close();
}
