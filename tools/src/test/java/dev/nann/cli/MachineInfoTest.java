package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class MachineInfoTest {
  @Test
  void readsTheFirstProcessorsModelAndWhetherItHasAvx512() {
    List<String> cpuinfo = List.of(
        "processor\t: 0", "vendor_id\t: AuthenticAMD", "model name\t: AMD EPYC 9454P 48-Core Processor",
        "flags\t\t: fpu vme avx2 avx512f avx512dq avx512bw", "",
        "processor\t: 1", "model name\t: something else", "flags\t\t: fpu");
    MachineInfo m = MachineInfo.fromCpuinfo(cpuinfo, 2, "amd64", "17.0.15");
    assertEquals(new MachineInfo("AMD EPYC 9454P 48-Core Processor", 2, "yes", "17.0.15"), m);
    assertEquals("AMD EPYC 9454P 48-Core Processor, 2 cores, AVX-512 yes, Java 17.0.15", m.describe());
  }

  @Test
  void aJsonLineCarriesItAsAnObject() {
    MachineInfo m = new MachineInfo("AMD EPYC", 2, "yes", "17.0.15");
    assertEquals("{\"bench\":\"x\",\"machine\":{\"cpu\":\"AMD EPYC\",\"cores\":2,\"avx512\":\"yes\",\"java\":\"17.0.15\"}}",
        JsonLines.line(JsonLines.object().put("bench", "x").putPOJO("machine", m.toJson())));
  }

  @Test
  void avx2AloneIsNotAvx512() {
    // AVX2 and the 256-bit VNNI extension are not AVX-512: only the foundation flag avx512f counts
    MachineInfo m = MachineInfo.fromCpuinfo(List.of("model name : Intel(R) Xeon(R)", "flags : sse4_2 avx2 avx_vnni"),
        4, "amd64", "17");
    assertEquals("no", m.avx512());
  }

  @Test
  void withoutCpuinfoTheArchitectureStandsInAndAvx512IsUnknown() {
    MachineInfo m = MachineInfo.fromCpuinfo(List.of(), 8, "aarch64", "17");
    assertEquals(new MachineInfo("aarch64", 8, "unknown", "17"), m);
  }

  @Test
  void armsFeaturesLineIsItsFlagList() {
    MachineInfo m = MachineInfo.fromCpuinfo(List.of("Features\t: fp asimd sve"), 4, "aarch64", "17");
    assertEquals("no", m.avx512());
    assertEquals("aarch64", m.cpu());
  }
}
