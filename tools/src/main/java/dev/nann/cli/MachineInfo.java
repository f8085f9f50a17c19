package dev.nann.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The machine a figure was measured on, stamped into benchmark and evaluation JSON lines: the same
 * command can run a third or more slower on another machine (with or without AVX-512, another
 * processor, a busier host), so a speed figure is only comparable with its machine beside it.
 *
 * @param cpu the processor's model name as the kernel reports it (an architecture name where it does not)
 * @param cores processors this JVM may use
 * @param avx512 {@code yes}, {@code no}, or {@code unknown} where the kernel lists no flags
 * @param java the Java runtime's version
 */
public record MachineInfo(String cpu, int cores, String avx512, String java) {
  private static final Path CPUINFO = Path.of("/proc/cpuinfo");

  /** This machine (Linux's {@code /proc/cpuinfo}; elsewhere the architecture and "unknown"). */
  public static MachineInfo current() {
    List<String> lines = List.of();
    try {
      if (Files.isReadable(CPUINFO)) {
        lines = Files.readAllLines(CPUINFO);
      }
    } catch (IOException | RuntimeException e) {
      // unreadable: the fields say unknown rather than fail the benchmark they describe
    }
    return fromCpuinfo(lines, Runtime.getRuntime().availableProcessors(), System.getProperty("os.arch"),
        Runtime.version().toString());
  }

  /** Parses {@code /proc/cpuinfo}'s lines (the first processor's model name and flags). */
  static MachineInfo fromCpuinfo(List<String> cpuinfo, int cores, String arch, String java) {
    String model = null;
    String flags = null;
    for (String line : cpuinfo) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      String key = line.substring(0, colon).trim();
      String value = line.substring(colon + 1).trim();
      if (model == null && key.equals("model name")) {
        model = value;
      } else if (flags == null && (key.equals("flags") || key.equals("Features"))) {
        flags = " " + value + " ";
      }
    }
    String avx512 = flags == null ? "unknown" : flags.contains(" avx512f ") ? "yes" : "no";
    return new MachineInfo(model != null && !model.isEmpty() ? model : arch, cores, avx512, java);
  }

  /** The JSON fields ({@code cpu, cores, avx512, java}). */
  public Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpu", cpu);
    m.put("cores", cores);
    m.put("avx512", avx512);
    m.put("java", java);
    return m;
  }

  /** One line for a log: {@code AMD EPYC, 2 cores, AVX-512 yes, Java 17.0.15}. */
  public String describe() {
    return cpu + ", " + cores + " cores, AVX-512 " + avx512 + ", Java " + java;
  }
}
