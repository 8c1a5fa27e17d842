package io.agentguard.rules;

import io.agentguard.rules.RuleItems.Action;
import io.agentguard.rules.RuleItems.Priority;

import java.util.List;

/** One enabled rule, compiled: what the classifier evaluates and what a violation names. */
public record CompiledRule(String name, String description, Priority priority, List<String> tags, Action action,
                           Boolean enforce, CompiledCondition condition, OutputTemplate output, int eventTypes,
                           SourcePosition position) {
}
