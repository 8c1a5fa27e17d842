package io.agentguard.event;

import io.agentguard.event.NvidiaTrace.Call;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.ProcessInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decoder over what a real driver was asked (H200, driver 580, CUDA 13: torch, CuPy, a
 * miner-shaped nvcc binary, nvidia-smi), call for call, no kernel: every call has a name,
 * the compute contexts and memory requests are where the node showed them.
 */
class NvidiaTraceDecodeTest {
    /** One trace through the decoder, as the records the kernel makes of the replayed calls. */
    private static List<GpuIoctl> decode(String trace) {
        NvidiaIoctlDecoder decoder = new NvidiaIoctlDecoder();
        GpuIoctlRecord record = NvidiaTrace.newRecord();
        List<GpuIoctl> out = new ArrayList<>();
        for (Call c : NvidiaTrace.load(trace)) {
            out.add(decoder.decode(NvidiaTrace.write(c, record)).toProto(GpuIoctl.newBuilder()).build());
        }
        return out;
    }

    private static Map<String, Long> histogram(List<GpuIoctl> calls, Function<GpuIoctl, String> key) {
        return calls.stream().collect(Collectors.groupingBy(key, TreeMap::new, Collectors.counting()));
    }

    private static List<GpuIoctl> allocs(List<GpuIoctl> calls) {
        return calls.stream().filter(c -> c.getName().equals("RM_ALLOC")).toList();
    }

    @Test
    void torchIssuesTheCallsTheNodeCountedEachWithAName() {
        List<GpuIoctl> torch = decode("torch");
        assertThat(torch).hasSize(549);
        assertThat(histogram(torch, GpuIoctl::getName)).containsExactlyInAnyOrderEntriesOf(Map.ofEntries(
                Map.entry("RM_CONTROL", 228L), Map.entry("RM_ALLOC", 132L),
                Map.entry("UVM_CREATE_EXTERNAL_RANGE", 38L), Map.entry("UVM_MAP_EXTERNAL_ALLOCATION", 38L),
                Map.entry("RM_MAP_MEMORY", 30L), Map.entry("UVM_REGISTER_CHANNEL", 20L),
                Map.entry("REGISTER_FD", 13L), Map.entry("ALLOC_OS_EVENT", 9L),
                Map.entry("UVM_CREATE_RANGE_GROUP", 8L), Map.entry("RM_ALLOC_MEMORY", 7L),
                Map.entry("CARD_INFO", 3L), Map.entry("RM_FREE", 3L), Map.entry("SYS_PARAMS", 3L),
                Map.entry("NUMA_INFO", 2L), Map.entry("RM_UPDATE_DEVICE_MAPPING_INFO", 2L),
                Map.entry("UVM_INITIALIZE", 2L), Map.entry("UVM_MM_INITIALIZE", 2L),
                Map.entry("CHECK_VERSION_STR", 1L), Map.entry("WAIT_OPEN_COMPLETE", 1L),
                Map.entry("UVM_ALLOC_SEMAPHORE_POOL", 1L), Map.entry("UVM_FREE", 1L),
                Map.entry("UVM_MAP_DYNAMIC_PARALLELISM_REGION", 1L), Map.entry("UVM_PAGEABLE_MEM_ACCESS", 1L),
                Map.entry("UVM_REGISTER_GPU", 1L), Map.entry("UVM_REGISTER_GPU_VASPACE", 1L),
                Map.entry("UVM_VALIDATE_VA_RANGE", 1L)));
        // every RM_ALLOC on this driver is NVOS64, 48 bytes
        assertThat(allocs(torch)).extracting(GpuIoctl::getCmd).containsOnly(0xc030462b);
    }

    @ParameterizedTest
    @ValueSource(strings = {"torch", "cupy", "spin", "smi"})
    void noCallOfARealDriverIsLeftUnnamed(String trace) {
        assertThat(decode(trace)).extracting(GpuIoctl::getName)
                .noneMatch(n -> n.startsWith("NV_ESC_0x") || n.startsWith("UVM_0x") || n.startsWith("IOCTL_0x"));
    }

    @Test
    void theTwoCallsLeftUnnamedOnTheNodeAreNamedFromNvidiasHeaders() {
        for (String trace : List.of("torch", "cupy", "spin")) {
            Map<String, Long> names = histogram(decode(trace), GpuIoctl::getName);
            assertThat(names).as(trace).containsEntry("RM_UPDATE_DEVICE_MAPPING_INFO", 2L)
                    .containsEntry("UVM_MAP_DYNAMIC_PARALLELISM_REGION", 1L);
        }
        assertThat(histogram(decode("cupy"), GpuIoctl::getName)).containsEntry("UVM_DESTROY_RANGE_GROUP", 1L);
        assertThat(NvidiaIoctlDecoder.name(io.agentguard.abi.KernelAbi.AG_DEV_CONTROL, 0xc028465e))
                .isEqualTo("RM_UPDATE_DEVICE_MAPPING_INFO");
        assertThat(NvidiaIoctlDecoder.name(io.agentguard.abi.KernelAbi.AG_DEV_UVM, 0x41))
                .isEqualTo("UVM_MAP_DYNAMIC_PARALLELISM_REGION");
    }

    @ParameterizedTest
    @ValueSource(strings = {"torch", "cupy", "spin"})
    void oneCudaContextAllocatesHopperComputeEightTimesEachOnAFreshChannel(String trace) {
        List<GpuIoctl> allocs = allocs(decode(trace));
        List<Integer> compute = new ArrayList<>();
        for (int i = 0; i < allocs.size(); i++) {
            if (allocs.get(i).getComputeContext()) {
                compute.add(i);
            }
        }
        assertThat(compute).hasSize(8);
        for (int i : compute) {
            assertThat(allocs.get(i).getAllocClass()).isEqualTo(0xcbc0);
            assertThat(allocs.get(i).getClassName()).isEqualTo("HOPPER_COMPUTE_A");
            assertThat(allocs.get(i).getClassKind()).isEqualTo(ClassKind.CLASS_KIND_COMPUTE);
            assertThat(allocs.get(i - 1).getAllocClass()).isEqualTo(0xc86f);   // HOPPER_CHANNEL_GPFIFO_A
            assertThat(allocs.get(i + 1).getAllocClass()).isEqualTo(0xc8b5);   // HOPPER_DMA_COPY_A
        }
        // the client is NV01_ROOT (class 0) here, not NV01_ROOT_CLIENT (0x41)
        assertThat(allocs.getFirst().getAllocClass()).isZero();
        assertThat(allocs.getFirst().getClassKind()).isEqualTo(ClassKind.CLASS_KIND_CLIENT);
    }

    @Test
    void torchAllocatesTheClassesTheNodeListed() {
        Map<String, Long> classes = histogram(allocs(decode("torch")), GpuIoctl::getClassName);
        assertThat(classes).containsExactlyInAnyOrderEntriesOf(Map.ofEntries(
                Map.entry("NV01_ROOT", 3L), Map.entry("NV01_DEVICE_0", 2L), Map.entry("NV20_SUBDEVICE_0", 2L),
                Map.entry("NV2081_BINAPI", 1L), Map.entry("NV01_MEMORY_SYSTEM", 26L),
                Map.entry("NV01_MEMORY_LOCAL_USER", 25L), Map.entry("NV50_THIRD_PARTY_P2P", 1L),
                Map.entry("NV50_MEMORY_VIRTUAL", 1L), Map.entry("NV01_EVENT_OS_EVENT", 8L),
                Map.entry("GT200_DEBUGGER", 1L), Map.entry("FERMI_CONTEXT_SHARE_A", 1L),
                Map.entry("GF100_SUBDEVICE_MASTER", 1L), Map.entry("FERMI_VASPACE_A", 2L),
                Map.entry("KEPLER_CHANNEL_GROUP_A", 4L), Map.entry("AMPERE_SMC_CONFIG_SESSION", 1L),
                Map.entry("AMPERE_SMC_MONITOR_SESSION", 1L), Map.entry("HOPPER_USERMODE_A", 2L),
                Map.entry("HOPPER_CHANNEL_GPFIFO_A", 20L), Map.entry("HOPPER_DMA_COPY_A", 20L),
                Map.entry("NV_CONFIDENTIAL_COMPUTE", 1L), Map.entry("HOPPER_COMPUTE_A", 8L),
                Map.entry("RM_USER_SHARED_DATA", 1L)));
    }

    @Test
    void rmAllocMemoryIsAMemoryRequestOfLimitPlusOneBytes() {
        List<GpuIoctl> memory = decode("torch").stream().filter(c -> c.getName().equals("RM_ALLOC_MEMORY")).toList();
        assertThat(memory).hasSize(7).allSatisfy(m -> {
            assertThat(m.getCmd()).isEqualTo(0xc0384627);
            assertThat(m.getHClient()).isNotZero();
            assertThat(m.getHObject()).isNotZero();
        });
        assertThat(memory).extracting(GpuIoctl::getAllocSizeBytes).containsExactly(2097152L, 2097152L, 2097152L,
                2097152L, 2097152L, 8654848L, 2097152L);
        // the process table's memory signal: what the rule field gpu.alloc_bytes and proc.gpu_mem_bytes add up
        NvidiaIoctlDecoder decoder = new NvidiaIoctlDecoder();
        GpuIoctlRecord record = NvidiaTrace.newRecord();
        long total = 0;
        for (Call c : NvidiaTrace.load("torch")) {
            decoder.decode(NvidiaTrace.write(c, record));
            if (decoder.hasAllocBytes() && decoder.allocBytes() >= 0) {
                total += decoder.allocBytes();
            }
        }
        assertThat(total).isEqualTo(6 * 2097152L + 8654848L);   // RM_ALLOC of 0x40/0x3e: params on the scratch page, 0
    }

    @Test
    void nvidiaSmiNeverAllocatesACompute() {
        List<GpuIoctl> smi = decode("smi");
        assertThat(smi).hasSize(63).noneMatch(GpuIoctl::getComputeContext);
        assertThat(histogram(smi, GpuIoctl::getName)).containsEntry("UVM_INITIALIZE", 1L)
                .containsEntry("UVM_MM_INITIALIZE", 1L).containsEntry("UVM_DEINITIALIZE", 1L)
                .containsEntry("RM_CONTROL", 43L).containsEntry("RM_ALLOC", 6L);
    }

    @Test
    void aRecordedRmAllocMemoryEventReplaysToTheSameDecoding() {
        Call call = NvidiaTrace.load("torch").stream().filter(c -> c.request() == 0xc0384627).toList().get(5);
        NvidiaIoctlDecoder decoder = new NvidiaIoctlDecoder();
        GpuIoctl io = decoder.decode(NvidiaTrace.write(call, NvidiaTrace.newRecord())).toProto(GpuIoctl.newBuilder()).build();
        Event recorded = Event.newBuilder().setProcess(ProcessInfo.newBuilder().setPid(call.pid()))
                .setGpu(GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_GPU).setMajor(195).setMinor(0).setIoctl(io))
                .build();
        GpuIoctlRecord again = NvidiaTrace.newRecord();
        again.write(recorded);
        GpuIoctl replayed = decoder.decode(again).toProto(GpuIoctl.newBuilder()).build();
        assertThat(replayed.getName()).isEqualTo("RM_ALLOC_MEMORY");
        assertThat(replayed.getAllocSizeBytes()).isEqualTo(8654848L);
        assertThat(replayed.getHObject()).isEqualTo(io.getHObject());
    }
}
