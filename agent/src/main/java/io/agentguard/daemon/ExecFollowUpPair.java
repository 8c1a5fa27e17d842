package io.agentguard.daemon;

import io.agentguard.event.ExecRecord;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.proto.v1.Event;

/**
 * Two exec follow-ups behind the pipeline's one: the exec file checker and the posture
 * monitor. Consumer thread only: which of them wanted the record is kept between
 * {@link #wants} and {@link #accept}.
 */
final class ExecFollowUpPair implements ConsumerPipeline.ExecFollowUp {
    private final ConsumerPipeline.ExecFollowUp first;
    private final ConsumerPipeline.ExecFollowUp second;
    private boolean firstWants;
    private boolean secondWants;

    ExecFollowUpPair(ConsumerPipeline.ExecFollowUp first, ConsumerPipeline.ExecFollowUp second) {
        this.first = first;
        this.second = second;
    }

    @Override
    public boolean wants(ExecRecord exec) {
        firstWants = first.wants(exec);
        secondWants = second.wants(exec);
        return firstWants || secondWants;
    }

    @Override
    public void accept(Event exec) {
        if (firstWants) {
            first.accept(exec);
        }
        if (secondWants) {
            second.accept(exec);
        }
    }
}
