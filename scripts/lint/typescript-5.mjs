// typescript-eslint and dependency-cruiser drive TypeScript through its JavaScript API, which the project's
// `typescript` package (7, the native compiler) does not have. They get TypeScript 5.9, installed beside it as
// `typescript-5`: this module makes `typescript` resolve to it, for require() (typescript-eslint) and for import()
// (dependency-cruiser). eslint.config.mjs imports it; scripts/lint.mjs loads it with `node --import` for
// dependency-cruiser. Nothing else in the project sees it.
import Module, { register } from 'node:module';

const toTypescript5 = (specifier) => specifier.replace(/^typescript(?=$|\/)/, 'typescript-5');

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveTypescript5(request, ...rest) {
  return resolveFilename.call(this, toTypescript5(request), ...rest);
};

const hook = `export async function resolve(specifier, context, next) {
  return next(specifier.replace(/^typescript(?=$|\\/)/, 'typescript-5'), context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
