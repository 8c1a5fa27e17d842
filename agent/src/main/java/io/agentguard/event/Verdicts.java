package io.agentguard.event;

import io.agentguard.proto.v1.Verdict;

import static io.agentguard.abi.KernelAbi.AG_VERDICT_ALLOWED;
import static io.agentguard.abi.KernelAbi.AG_VERDICT_DENIED;
import static io.agentguard.abi.KernelAbi.AG_VERDICT_WOULD_BLOCK;

/** enum ag_verdict to and from the wire's Verdict. */
final class Verdicts {
    private Verdicts() {
    }

    static Verdict toProto(int verdict) {
        return switch (verdict) {
            case AG_VERDICT_ALLOWED -> Verdict.VERDICT_ALLOWED;
            case AG_VERDICT_DENIED -> Verdict.VERDICT_DENIED;
            case AG_VERDICT_WOULD_BLOCK -> Verdict.VERDICT_WOULD_BLOCK;
            default -> Verdict.VERDICT_UNSPECIFIED;
        };
    }

    static int toKernel(Verdict verdict) {
        return switch (verdict) {
            case VERDICT_DENIED -> AG_VERDICT_DENIED;
            case VERDICT_WOULD_BLOCK -> AG_VERDICT_WOULD_BLOCK;
            default -> AG_VERDICT_ALLOWED;
        };
    }
}
