package dev.nann.cli;

import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Option;

/** Shared option: serving settings given on the command line ({@code --set KEY=VALUE}, see docs/configuration.md). */
public final class ServingSettings {
  @Option(names = "--set", description = "serving setting KEY=VALUE (repeatable; see docs/configuration.md)")
  Map<String, String> settings = Map.of();

  /** The settings given, in a map the caller may add to. */
  public Map<String, String> copy() {
    return new TreeMap<>(settings);
  }
}
