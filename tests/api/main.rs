mod at_rest;
mod auth;
mod cli;
mod errors;
mod flows;
mod helpers;
mod keys;
mod worked_example;
