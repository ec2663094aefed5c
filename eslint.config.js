import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "dist/**",
      "test/.docs/**",
      ".scratch/**",
      "bench/tmp/**",
      "bench/results/**",
      "coverage/**",
      "docs/**",
      "effect4/node_modules/**",
      "effect4/dist/**",
      "effect4/test/.docs/**"
    ]
  },
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-namespace": "off",
      // Pipeable protos forward `arguments` exactly as Effect's own data types do.
      "prefer-rest-params": "off"
    }
  }
)
