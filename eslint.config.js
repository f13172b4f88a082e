// Lint policy. The layering of DESIGN.md is enforced here, not in review:
//   cli -> http -> {backup, replication} -> engine, and outside src/engine only
//   src/engine/index.ts may be imported; inside the engine only vfs/node-vfs.ts touches node:fs.
import tseslint from 'typescript-eslint'

const engineInternals = {
  regex: '(^|/)engine/(?!index(\\.js)?$)',
  message: 'Import the engine only through src/engine/index.ts (DESIGN.md layering).',
}
const fsImports = {
  name: 'node:fs',
  message: 'Only src/engine/vfs/node-vfs.ts may touch the file system inside the engine.',
}

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', 'coverage/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    ignores: ['src/engine/vfs/node-vfs.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [fsImports, { name: 'node:fs/promises', message: fsImports.message }, { name: 'fs', message: fsImports.message }, { name: 'fs/promises', message: fsImports.message }],
        patterns: [{ group: ['**/http/**', '**/backup/**', '**/replication/**', '**/cli/**'], message: 'The engine imports nothing from the service.' }],
      }],
    },
  },
  {
    files: ['src/backup/**/*.ts', 'src/replication/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [engineInternals, { group: ['**/http/**', '**/cli/**'], message: 'backup and replication sit below http and cli.' }] }],
    },
  },
  {
    files: ['src/http/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [engineInternals, { group: ['**/cli/**'], message: 'http sits below cli.' }] }] },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [engineInternals] }] },
  },
)
