/** Dependency rules (ARCHITECTURE.md "Layout", docs/architecture.md): the core is pure, the processor runs lean, one loop steps. */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain imports nothing of the project but itself, and no Node I/O module',
      severity: 'error',
      from: { path: '^src/domain' },
      to: { pathNot: ['^src/domain', '^node_modules/zod'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'processor-never-loads-ccxt',
      comment: 'nothing the processor loads imports ccxt (it runs on another host than the ingestors)',
      severity: 'error',
      from: { path: '^src/(processor|sink|bus|domain|server|replay)/' },
      to: { path: 'node_modules/ccxt' },
    },
    {
      name: 'process-command-never-reaches-ccxt',
      comment: 'the process command and everything it reaches must not import ccxt',
      severity: 'error',
      from: { path: '^src/cli/process\\.ts$' },
      to: { path: 'node_modules/ccxt', reachable: true },
    },
    {
      name: 'one-caller-of-step',
      comment: 'the runtime loop is the only caller of step and flush on the running state (docs/processor.md); cascade.ts is the step with the contagion stage after it; checkpoint.ts reads and restores alert statuses; takeover.ts folds a dead owner\'s stretch on a state of its own; the modules step.ts is made of count as step (step-types.ts and guard.ts do not)',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/domain/', '^src/processor/(runtime-loop|cascade|checkpoint|takeover)\\.ts$'] },
      to: { path: '^src/domain/(step/(?!step-types\\.ts$|guard\\.ts$)[^/]+|index\\.ts$)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'components-return-never-call-back',
      comment: 'the processor components return events and records; only processor.ts drives the runtime loop',
      severity: 'error',
      from: { path: '^src/processor/', pathNot: '^src/processor/(processor|index)\\.ts$' },
      to: { path: '^src/processor/(runtime-loop|processor)\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles; a cycle closed only by a type-only import (erased at runtime: defaults.ts takes the types of params.ts, which re-exports its defaults) is allowed',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
